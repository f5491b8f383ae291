#!/usr/bin/python3
"""Rebuilds the fuzz seed corpora in tests/fuzz/corpus/ from real model directories.

    /usr/bin/python3 tests/fuzz/make_corpus.py build/engine-run

Saves the built-in tutorial and resnet18 models with `engine-run MODEL --save`,
then writes:
  corpus/npy/         the tutorial's weight files, a few small resnet18 ones,
                      and the NPY variants numpy writes (versions 2.0 and 3.0,
                      a scalar, an empty array)
  corpus/graph_json/  the tutorial's graph.json as saved (its "file" weights
  corpus/model/       resolve in the fuzz targets' weights directory), the same
                      with inline data, and resnet18's graph.json narrowed
                      (channels 64/128/256/512 -> 2/4/8/16, input 32x32,
                      weights inline): whole and in pieces (stem, a block, a
                      downsampling block, the head); plus one graph with the
                      ops resnet18 does not use (grouped conv, avg_pool2d,
                      linear -> batchnorm), one with the elementwise ops
                      (a squeeze-excitation gate, broadcast and scalar
                      arithmetic, every activation), and one with the shape,
                      pooling and normalisation ops (concat, slice, a ceil_mode
                      avg_pool2d whose last window is clipped,
                      adaptive_avg_pool2d, permute, layer_norm, linear on
                      rank 4, reshape, mean); and two zoo families shrunk to a
                      few thousand weights, exported from torchvision by
                      loaders/torch/export.py: a DenseNet (concat, BNs that do
                      not fold) and a MobileNetV3 (squeeze-excitation gates,
                      hardswish, hardsigmoid)
Seeds are small (the whole corpus stays well under 2 MB) and deterministic.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
WIDTH = {64: 2, 128: 4, 256: 8, 512: 16, 1000: 10}


def save(path, text_or_bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(text_or_bytes, bytes) else "w"
    with open(path, mode) as f:
        f.write(text_or_bytes)


def dump(doc):
    # One entry per line, as save_model_dir writes it: short, and diffable.
    return json.dumps(doc, separators=(",", ":")).replace("},{", "},\n{") + "\n"


def inline_params(doc, model_dir, rng):
    """Replaces "file" by "data": the file's values (narrowed shapes get random ones)."""
    for p in doc["params"]:
        if "file" in p:
            p["data"] = [round(float(v), 4) for v in np.load(os.path.join(model_dir, p.pop("file"))).ravel()]
        elif "data" not in p:
            n = int(np.prod(p["shape"])) if p["shape"] else 1
            lo, hi = (0.5, 1.5) if p["name"].endswith("running_var") else (-0.5, 0.5)
            p["data"] = [round(rng.uniform(lo, hi), 3) for _ in range(n)]
    return doc


def narrow_resnet18(doc):
    doc = json.loads(json.dumps(doc))
    doc["inputs"][0]["shape"] = ["N", 3, 32, 32]
    for p in doc["params"]:
        p.pop("file")
        p["shape"] = [WIDTH.get(d, d) for d in p["shape"]]
    doc["producer"] = "tests/fuzz/make_corpus.py (resnet18, narrowed)"
    return doc


def piece(doc, first, last, input_name, input_shape):
    """Nodes first..last (by name) of a narrowed graph, fed by one graph input."""
    names = [n["name"] for n in doc["nodes"]]
    nodes = doc["nodes"][names.index(first):names.index(last) + 1]
    used = {i for n in nodes for i in n["inputs"]}
    return {
        "format": "kiln", "version": 1, "producer": doc["producer"] + ", " + first + ".." + last,
        "inputs": [{"name": input_name, "dtype": "float32", "shape": ["N"] + input_shape}],
        "outputs": [last],
        "params": [p for p in doc["params"] if p["name"] in used],
        "nodes": nodes,
    }


def other_ops():
    return {
        "format": "kiln", "version": 1, "producer": "tests/fuzz/make_corpus.py (other ops)",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 4, 7, 7]}],
        "outputs": ["bn"],
        "params": [
            {"name": "conv.weight", "dtype": "float32", "shape": [4, 2, 3, 3]},
            {"name": "fc.weight", "dtype": "float32", "shape": [3, 8]},
            {"name": "bn.running_mean", "dtype": "float32", "shape": [3]},
            {"name": "bn.running_var", "dtype": "float32", "shape": [3]},
        ],
        "nodes": [
            {"name": "conv", "op": "conv2d", "inputs": ["x", "conv.weight"],
             "attrs": {"stride": [1, 2], "padding": [1, 0], "dilation": [2, 1], "groups": 2}},
            {"name": "pool", "op": "avg_pool2d", "inputs": ["conv"],
             "attrs": {"kernel": [2, 2], "stride": [2, 1], "padding": [1, 0], "ceil_mode": 1,
                       "count_include_pad": 0}},
            {"name": "mpool", "op": "max_pool2d", "inputs": ["pool"],
             "attrs": {"kernel": [2, 2], "stride": [1, 1], "dilation": [1, 1], "ceil_mode": 0}},
            {"name": "flatten", "op": "flatten", "inputs": ["mpool"], "attrs": {"start_dim": 1}},
            {"name": "fc", "op": "linear", "inputs": ["flatten", "fc.weight"]},
            {"name": "bn", "op": "batchnorm", "inputs": ["fc", "bn.running_mean", "bn.running_var"],
             "attrs": {"eps": 0.001}},
        ],
    }


def eltwise_ops():
    def node(name, op, inputs, **attrs):
        return {"name": name, "op": op, "inputs": inputs, **({"attrs": attrs} if attrs else {})}
    return {
        "format": "kiln", "version": 1, "producer": "tests/fuzz/make_corpus.py (elementwise ops)",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 4, 5, 5]}],
        "outputs": ["out"],
        "params": [
            {"name": "conv.weight", "dtype": "float32", "shape": [6, 4, 3, 3]},
            {"name": "gate.weight", "dtype": "float32", "shape": [6, 6, 1, 1]},
            {"name": "shift", "dtype": "float32", "shape": [6, 1, 1]},
            {"name": "one", "dtype": "float32", "shape": [], "data": [1.0]},
            {"name": "two", "dtype": "float32", "shape": [1], "data": [2.0]},
        ],
        "nodes": [
            node("conv", "conv2d", ["x", "conv.weight"], padding=[1, 1]),
            node("act", "hardswish", ["conv"]),
            node("pool", "global_avg_pool2d", ["act"]),
            node("gate_conv", "conv2d", ["pool", "gate.weight"]),
            node("gate", "hardsigmoid", ["gate_conv"]),
            node("scale", "mul", ["act", "gate"]),
            node("shifted", "add", ["scale", "shift"]),
            node("relu6", "clamp", ["shifted"], min=0, max=6),
            node("flipped", "sub", ["one", "relu6"]),
            node("halved", "div", ["flipped", "two"]),
            node("sigmoid", "sigmoid", ["halved"]),
            node("silu", "silu", ["sigmoid"]),
            node("tanh", "tanh", ["silu"]),
            node("gelu", "gelu", ["tanh"], approximate="tanh"),
            node("leaky", "leaky_relu", ["gelu"], negative_slope=0.2),
            node("out", "elu", ["leaky"], alpha=0.5),
        ],
    }


def shape_ops():
    return {
        "format": "kiln", "version": 1, "producer": "tests/fuzz/make_corpus.py (shape ops)",
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 4, 7, 7]}],
        "outputs": ["mean", "flat"],
        "params": [
            {"name": "conv.weight", "dtype": "float32", "shape": [8, 4, 3, 3]},
            {"name": "conv2.weight", "dtype": "float32", "shape": [4, 4, 1, 1]},
            {"name": "norm.weight", "dtype": "float32", "shape": [6]},
            {"name": "norm.bias", "dtype": "float32", "shape": [6]},
            {"name": "fc.weight", "dtype": "float32", "shape": [5, 6]},
        ],
        "nodes": [
            {"name": "conv", "op": "conv2d", "inputs": ["x", "conv.weight"], "attrs": {"padding": [1, 1]}},
            {"name": "conv2", "op": "conv2d", "inputs": ["x", "conv2.weight"]},
            {"name": "cat", "op": "concat", "inputs": ["conv", "conv2"], "attrs": {"axis": 1}},
            {"name": "half", "op": "slice", "inputs": ["cat"], "attrs": {"axis": 1, "start": 0, "end": 6}},
            {"name": "pool", "op": "avg_pool2d", "inputs": ["half"],
             "attrs": {"kernel": [2, 2], "stride": [2, 2], "ceil_mode": 1, "count_include_pad": 1}},
            {"name": "adapt", "op": "adaptive_avg_pool2d", "inputs": ["pool"], "attrs": {"output_size": [3, 3]}},
            {"name": "nhwc", "op": "permute", "inputs": ["adapt"], "attrs": {"dims": [0, 2, 3, 1]}},
            {"name": "norm", "op": "layer_norm", "inputs": ["nhwc", "norm.weight", "norm.bias"],
             "attrs": {"normalized_shape": [6], "eps": 1e-6}},
            {"name": "fc", "op": "linear", "inputs": ["norm", "fc.weight"]},
            {"name": "nchw", "op": "permute", "inputs": ["fc"], "attrs": {"dims": [0, 3, 1, 2]}},
            {"name": "flat", "op": "reshape", "inputs": ["nchw"], "attrs": {"shape": [0, -1]}},
            {"name": "mean", "op": "mean", "inputs": ["nchw"], "attrs": {"dims": [2, 3], "keepdim": 0}},
        ],
    }


def zoo_families(tmp):
    """Two torchvision families, narrowed, exported at 32x32 with randomised BatchNorms."""
    import torch
    from torchvision.models import densenet, mobilenetv3
    sys.path.insert(0, os.path.join(HERE, "..", "..", "loaders", "torch"))
    from torch2kiln import export

    torch.manual_seed(3)
    settings, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.125)
    models = {
        "zoo_densenet_tiny": densenet.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8,
                                               bn_size=2, num_classes=10),
        "zoo_mobilenet_v3_tiny": mobilenetv3.MobileNetV3(settings[:4], 16, num_classes=10),
    }
    docs = {}
    for name, module in models.items():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        out = os.path.join(tmp, name)
        doc = export(module.eval(), torch.zeros(1, 3, 32, 32), out)
        doc["producer"] = f"tests/fuzz/make_corpus.py ({name})"
        docs[name] = inline_params(doc, out, None)
    return docs


def npy_variants(out):
    def write(name, arr, version):
        with open(os.path.join(out, name), "wb") as f:
            np.lib.format.write_array(f, arr, version=version, allow_pickle=False)
    rng = np.random.default_rng(1)
    write("v2_0_3d.npy", rng.standard_normal((2, 3, 2)).astype("<f4"), (2, 0))
    write("v3_0_vector.npy", rng.standard_normal(5).astype("<f4"), (3, 0))
    write("scalar.npy", np.array(1.5, dtype="<f4"), (1, 0))
    write("empty.npy", np.zeros((0, 4), dtype="<f4"), (1, 0))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    engine_run = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kiln-corpus-")
    try:
        for model in ("tutorial", "resnet18"):
            subprocess.run([engine_run, model, "--save", os.path.join(tmp, model)], check=True,
                           stdout=subprocess.DEVNULL)
        tutorial_dir, resnet_dir = os.path.join(tmp, "tutorial"), os.path.join(tmp, "resnet18")
        for sub in ("npy", "graph_json", "model"):
            shutil.rmtree(os.path.join(CORPUS, sub), ignore_errors=True)
            os.makedirs(os.path.join(CORPUS, sub))

        npy = os.path.join(CORPUS, "npy")
        for name in ("conv1.weight.npy", "bn1.running_var.npy"):
            shutil.copy(os.path.join(tutorial_dir, "weights", name), os.path.join(npy, "tutorial." + name))
        for name in ("bn1.running_var.npy", "layer4.1.bn2.bias.npy", "conv1.weight.npy"):
            shutil.copy(os.path.join(resnet_dir, "weights", name), os.path.join(npy, "resnet18." + name))
        npy_variants(npy)

        rng = random.Random(5)
        with open(os.path.join(tutorial_dir, "graph.json")) as f:
            tutorial_text = f.read()
        tutorial = json.loads(tutorial_text)
        with open(os.path.join(resnet_dir, "graph.json")) as f:
            resnet = inline_params(narrow_resnet18(json.load(f)), resnet_dir, rng)
        seeds = {
            "tutorial.json": tutorial_text,
            "tutorial_inline.json": dump(inline_params(tutorial, tutorial_dir, rng)),
            "resnet18_narrow.json": dump(resnet),
            "resnet18_stem.json": dump(piece(resnet, "conv1", "maxpool", "x", [3, 32, 32])),
            "resnet18_layer1.0.json": dump(piece(resnet, "layer1.0.conv1", "layer1.0.relu_1", "maxpool", [2, 8, 8])),
            "resnet18_layer2.0.json": dump(piece(resnet, "layer2.0.conv1", "layer2.0.relu_1", "layer1.1.relu_1", [2, 8, 8])),
            "resnet18_head.json": dump(piece(resnet, "avgpool", "fc", "layer4.1.relu_1", [16, 1, 1])),
            "other_ops.json": dump(inline_params(other_ops(), None, rng)),
            "eltwise_ops.json": dump(inline_params(eltwise_ops(), None, rng)),
            "shape_ops.json": dump(inline_params(shape_ops(), None, rng)),
        }
        for name, doc in zoo_families(tmp).items():
            seeds[name + ".json"] = dump(doc)
        for target in ("graph_json", "model"):
            for name, text in seeds.items():
                save(os.path.join(CORPUS, target, name), text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
