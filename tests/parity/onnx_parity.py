#!/usr/bin/env python3
"""Kiln on .onnx files against PyTorch, end to end through the engine-run CLI.

    onnx_parity.py --engine-run PATH CASE [CASE ...]     (or `all`)
    onnx_parity.py --list

For each case: build the model (BN statistics and affine parameters
randomised), export it with torch.onnx.export at the case's opset, either
with the BatchNorms folded by the exporter (training=EVAL, its default) or
kept as BatchNormalization nodes (training=PRESERVE), with a free batch
dimension; then run `engine-run MODEL.onnx --input x.npy --output y.npy`
unfused and with --fuse=all, and check max|kiln - torch| <= 1e-4 * max|torch|
(run_parity.py's bound). From `--json`: the loaded graph has as many
batchnorms as the file has BatchNormalization nodes, and --fuse=all folds
every one that follows a Conv or Gemm and joins every one after a channel Concat
to it. The small model is also saved as a model directory (--save) and
run again from there.

Exit 0 pass, 1 fail, 77 skip (no PyTorch or onnx, outside CI; see torch_or_skip.py).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_parity import Failure, check_close, run, run_cases  # noqa: E402

SEED = 7
BATCH = 2


def small_model():
    """conv/bn/relu/pool/gemm: what torch.onnx writes for a small CNN, in one model."""
    import torch
    import torch.nn as nn

    class SmallCnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 5, stride=2, padding=2)
            self.bn1 = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=False)
            self.bn2 = nn.BatchNorm2d(16)
            self.avg = nn.AvgPool2d(2, count_include_pad=False)
            self.drop = nn.Dropout(0.5)
            self.fc1 = nn.Linear(16 * 4 * 5, 32)
            self.bn3 = nn.BatchNorm1d(32)
            self.fc2 = nn.Linear(32, 10)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc3 = nn.Linear(16, 10, bias=False)

        def forward(self, x):
            x = self.pool(torch.relu(self.bn1(self.conv1(x))))
            x = torch.clamp(self.bn2(self.conv2(x)), min=0)
            y = self.avg(x)
            a = self.fc1(self.drop(y.view(y.size(0), -1)))  # Shape -> Gather -> Unsqueeze -> Concat -> Reshape
            a = self.fc2(torch.relu(self.bn3(a)))
            b = self.fc3(torch.flatten(self.gap(x), 1))
            return a + b

    return SmallCnn(), (BATCH, 3, 32, 40)


def torchvision_model(name, shape, **kwargs):
    def build():
        import torchvision
        return getattr(torchvision.models, name)(weights=None, **kwargs), shape
    return build


# Small inputs (as tests/parity/zoo.py) keep the export and the run short.
ZOO = {
    "resnet18": torchvision_model("resnet18", (BATCH, 3, 64, 64)),
    "mobilenet_v2": torchvision_model("mobilenet_v2", (BATCH, 3, 64, 64)),              # Clip(0, 6)
    "efficientnet_b0": torchvision_model("efficientnet_b0", (BATCH, 3, 64, 64)),        # Sigmoid, Mul
    "densenet121": torchvision_model("densenet121", (BATCH, 3, 64, 64)),                # Concat, Pad
    "shufflenet_v2_x1_0": torchvision_model("shufflenet_v2_x1_0", (BATCH, 3, 64, 64)),  # shapes, Slice
    "googlenet": torchvision_model("googlenet", (BATCH, 3, 64, 64), aux_logits=False, init_weights=False),
    "regnet_y_400mf": torchvision_model("regnet_y_400mf", (BATCH, 3, 64, 64)),
}
# Beyond the list: HardSwish / HardSigmoid (opset 17 only),
# ConvNeXt's LayerNorm (LayerNormalization at opset 17, its decomposition
# ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add at 13), GELU (Erf) and
# MatMul on rank 4, and Inception-v3's Pad before an AveragePool.
EXTRA = {
    "resnet50": torchvision_model("resnet50", (1, 3, 64, 64)),
    "mobilenet_v3_small": torchvision_model("mobilenet_v3_small", (BATCH, 3, 64, 64)),
    "convnext_tiny": torchvision_model("convnext_tiny", (BATCH, 3, 64, 64)),
    "inception_v3": torchvision_model("inception_v3", (BATCH, 3, 80, 80), aux_logits=False,
                                      init_weights=False),
}
MODELS = {"small": small_model, **ZOO, **EXTRA}
# name -> (model, opset, keep the BatchNorms in the file)
CASES = {f"{m}_op{op}{'_bn' if keep else ''}": (m, op, keep)
         for m in MODELS for op in ((17,) if m in EXTRA and m != "convnext_tiny" else (13, 17))
         for keep in (False, True)
         if not (m == "convnext_tiny" and keep)}  # ConvNeXt has no BatchNorm


def randomize_bn(module, seed):
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)


def export(name, tmp):
    """The case's .onnx file, input and PyTorch's output; also the file's BatchNormalization count."""
    import numpy as np
    import onnx
    import torch
    model_name, opset, keep_bn = CASES[name]
    torch.manual_seed(SEED)
    module, shape = MODELS[model_name]()
    with torch.no_grad():
        randomize_bn(module, SEED)
    module.eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(SEED))
    with torch.no_grad():
        ref = module(x).double().numpy()
    path = os.path.join(tmp, f"{name}.onnx")
    training = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(module, x, path, opset_version=opset, training=training,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    np.save(os.path.join(tmp, "input.npy"), x.numpy())
    graph = onnx.load(path).graph
    bn = sum(1 for n in graph.node if n.op_type == "BatchNormalization")
    return path, ref, (bn, kept_batchnorms(graph))


def kept_batchnorms(graph):
    """BatchNormalizations left as batchnorms at --fuse=all: those that neither fold
    (passes/fold_batchnorm.h: the input is computed by a Conv or Gemm that only the BN
    reads) nor join the Concat before them into a concat_batchnorm
    (passes/fuse_concat_batchnorm.h: a channel Concat of computed tensors that only the
    BN reads). DenseNet's after a Concat join it."""
    producer = {o: n for n in graph.node for o in n.output}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    outputs = {o.name for o in graph.output}
    constants = {t.name for t in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}

    def only_the_bn_reads(x):
        return x in producer and readers[x] == 1 and x not in outputs

    def channel_concat(node):
        axis = next((a.i for a in node.attribute if a.name == "axis"), None)
        return node.op_type == "Concat" and axis in (1, -3) and not constants & set(node.input)

    kept = 0
    for n in graph.node:
        if n.op_type != "BatchNormalization":
            continue
        x = n.input[0]
        folds = only_the_bn_reads(x) and producer[x].op_type in ("Conv", "Gemm")
        joins = only_the_bn_reads(x) and channel_concat(producer[x])
        kept += not (folds or joins)
    return kept


def parity(name, engine_run, tmp):
    import numpy as np
    model_name, opset, keep_bn = CASES[name]
    path, ref, (bn_in_file, bn_kept) = export(name, tmp)
    if not np.all(np.isfinite(ref)) or np.max(np.abs(ref)) == 0:
        raise Failure(f"{name}: PyTorch's reference output is zero or not finite")
    if keep_bn and bn_in_file == 0:
        raise Failure(f"{name}: the exporter folded every BatchNorm though told to keep them")
    x, y = os.path.join(tmp, "input.npy"), os.path.join(tmp, "y.npy")
    print(f"  opset {opset}, {bn_in_file} BatchNormalization in the file, input {list(np.load(x).shape)}, "
          f"max|torch| = {np.max(np.abs(ref)):.3e}")

    if model_name == "small":  # the zoo models at --fuse=all only, to keep the suite short
        run([engine_run, path, "--input", x, "--output", y], "engine-run (unfused)")
        check_close(name, y, ref, "unfused")
    out = run([engine_run, path, "--fuse=all", "--input", x, "--output", y, "--json"], "engine-run --fuse=all")
    check_close(name, y, ref, "all")
    report = json.loads(out.strip().splitlines()[-1])
    before, after = report.get("batchnorm_before"), report.get("batchnorm_after")
    print(f"  batchnorm {before} -> {after} at --fuse=all (expected {bn_in_file} -> {bn_kept})")
    if before != bn_in_file or after != bn_kept:
        raise Failure(f"{name}: batchnorm {before} -> {after} at --fuse=all, expected {bn_in_file} -> {bn_kept}")

    if model_name == "small":
        saved = os.path.join(tmp, "saved")
        run([engine_run, path, "--fuse=all", "--save", saved], "engine-run --save")
        run([engine_run, saved, "--input", x, "--output", y], "engine-run on the saved directory")
        check_close(name, y, ref, "saved")


def main():
    from torch_or_skip import require_onnx
    return run_cases(__doc__, list(CASES), require_onnx, parity)


if __name__ == "__main__":
    sys.exit(main())
