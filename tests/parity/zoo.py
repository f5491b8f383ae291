"""The torchvision classification zoo against PyTorch (run_parity.py's `zoo.NAME` cases).

Each model is exported with --randomize-bn --reference at a small input (the models
allow it: Inception needs >= 75x75), then run by engine-run at --fuse=none, bn and
all, and at all with --conv-algo auto (with the layout auto picks, and with
--conv-layout blocked), each within 1e-4 x max|PyTorch| of PyTorch;
--verify at all compares every fused node with its unfused twin; the bn level must
keep exactly the BatchNorms fold_batchnorm may not fold (kept_batchnorms).

Sizes: batch 2 where the graph reshapes, permutes or broadcasts (the batch must stay
free), else 1; some inputs are not square. The last cases are the same families at
other widths and depths."""

import collections
import json
import os

from harness import Failure, check_close, export, run

# name -> (torchvision builder, --input-shape, --model-arg list)
ZOO = {
    "resnet18": ("resnet18", "2,3,64,80", []),
    "resnet50": ("resnet50", "1,3,64,64", []),
    "resnext50_32x4d": ("resnext50_32x4d", "1,3,64,64", []),
    "wide_resnet50_2": ("wide_resnet50_2", "1,3,64,64", []),
    "vgg11_bn": ("vgg11_bn", "1,3,64,64", []),          # adaptive pool 2x2 -> 7x7
    "alexnet": ("alexnet", "1,3,96,80", []),            # adaptive pool 2x1 -> 6x6
    "squeezenet1_0": ("squeezenet1_0", "1,3,64,64", []),
    "densenet121": ("densenet121", "1,3,64,64", []),
    "googlenet": ("googlenet", "1,3,64,64", []),
    "inception_v3": ("inception_v3", "1,3,80,96", []),
    "mobilenet_v2": ("mobilenet_v2", "1,3,64,64", []),
    "mobilenet_v3_small": ("mobilenet_v3_small", "2,3,64,64", []),
    "mobilenet_v3_large": ("mobilenet_v3_large", "2,3,64,96", []),
    "mnasnet1_0": ("mnasnet1_0", "1,3,64,64", []),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", "2,3,64,64", []),
    "efficientnet_b0": ("efficientnet_b0", "2,3,64,64", []),
    "regnet_x_400mf": ("regnet_x_400mf", "1,3,64,64", []),
    "regnet_y_400mf": ("regnet_y_400mf", "2,3,64,64", []),
    "convnext_tiny": ("convnext_tiny", "2,3,64,64", []),
    # the same families at other widths, depths and sizes
    "mobilenet_v3_large_w075": ("mobilenet_v3_large", "2,3,96,64", ["width_mult=0.75"]),
    "efficientnet_b1": ("efficientnet_b1", "1,3,64,80", []),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", "2,3,96,64", []),
}

# (label, engine-run flags): each level is checked against PyTorch.
LEVELS = [
    ("none", ["--fuse=none"]),
    ("bn", ["--fuse=bn"]),
    ("all", ["--fuse=all"]),
    ("all+auto", ["--fuse=all", "--conv-algo", "auto"]),
    # The blocked layout auto takes on AVX-512 from a batch of 6 (ops/conv_layout.h),
    # asked for at these small batches.
    ("all+auto+blocked", ["--fuse=all", "--conv-algo", "auto", "--conv-layout", "blocked"]),
]


def kept_batchnorms(graph):
    """How many BatchNorms fold_batchnorm must keep (passes/fold_batchnorm.h): those
    whose input is not the output of a conv2d or linear read by that BN alone and not
    a graph output. DenseNet's BNs after a concat, for one."""
    producer = {n["name"]: n for n in graph["nodes"]}
    users = collections.Counter(i for n in graph["nodes"] for i in n["inputs"])
    kept = 0
    for n in graph["nodes"]:
        if n["op"] != "batchnorm":
            continue
        x = n["inputs"][0]
        folds = (x in producer and producer[x]["op"] in ("conv2d", "linear") and users[x] == 1
                 and x not in graph["outputs"])
        kept += not folds
    return kept


def zoo_parity(name, engine_run, tmp):
    import numpy as np
    builder, shape, model_args = ZOO[name]
    model = os.path.join(tmp, "model")
    source = ["--torchvision", builder] + [a for arg in model_args for a in ("--model-arg", arg)]
    export(source, model, shape)
    ref = np.load(os.path.join(model, "output.npy")).astype(np.float64)
    if not np.all(np.isfinite(ref)) or np.max(np.abs(ref)) == 0:
        raise Failure(f"{name}: PyTorch's reference output is zero or not finite")
    with open(os.path.join(model, "graph.json")) as f:
        graph = json.load(f)
    bn_before, bn_after = sum(n["op"] == "batchnorm" for n in graph["nodes"]), kept_batchnorms(graph)
    ops = collections.Counter(n["op"] for n in graph["nodes"])
    x, y = os.path.join(model, "input.npy"), os.path.join(tmp, "y.npy")
    print(f"  input {shape}, {len(graph['nodes'])} nodes: "
          + ", ".join(f"{op} {k}" for op, k in sorted(ops.items())))

    for label, flags in LEVELS:
        out = run([engine_run, model, *flags, "--input", x, "--output", y, "--json"],
                  f"engine-run {' '.join(flags)}")
        check_close(name, y, ref, label)
        if label == "bn":
            report = json.loads(out.strip().splitlines()[-1])
            got = (report.get("batchnorm_before"), report.get("batchnorm_after"))
            print(f"  batchnorm {got[0]} -> {got[1]} (expected {bn_before} -> {bn_after})")
            if got != (bn_before, bn_after):
                raise Failure(f"{name}: batchnorm {got[0]} -> {got[1]} at --fuse=bn, expected "
                                f"{bn_before} -> {bn_after}")

    out = run([engine_run, model, "--fuse=all", "--verify", "--input", x, "--json"],
                "engine-run --fuse=all --verify")
    report = json.loads(out.strip().splitlines()[-1])
    print(f"  verify   {report.get('nodes_compared')} nodes, max rel error "
          f"{report.get('max_rel_error')}")
    if report.get("ok") is not True:
        raise Failure(f"{name}: --verify at --fuse=all: {report}")
