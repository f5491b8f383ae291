"""A plain reading of a Kiln model directory in PyTorch: each op computed from its
definition in docs/OPS.md, one node after another, in float64. It checks what the
exporter writes (names, inputs, attributes) without the engine:

    y = run_model(model_dir, x)       # x: a float32 numpy array; y: the outputs

Only for tests: no validation beyond what the computation needs."""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F


def pair_pad(attrs):
    return list(attrs.get("padding", [0, 0]))


def conv2d(ins, a):
    x, w = ins[0], ins[1]
    return F.conv2d(x, w, ins[2] if len(ins) > 2 else None, a.get("stride", [1, 1]),
                    pair_pad(a), a.get("dilation", [1, 1]), a.get("groups", 1))


def batchnorm(ins, a):
    x, mean, var = ins[:3]
    shape = [1, -1] + [1] * (x.dim() - 2)
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + a.get("eps", 1e-5))
    if len(ins) > 3:
        y = y * ins[3].view(shape) + ins[4].view(shape)
    return y


def linear(ins, a):
    return F.linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None)


def pool_args(a):
    k = a["kernel"]
    return k, a.get("stride", k), pair_pad(a), bool(a.get("ceil_mode", 0))


def max_pool2d(ins, a):
    k, s, p, ceil = pool_args(a)
    return F.max_pool2d(ins[0], k, s, p, a.get("dilation", [1, 1]), ceil)


def avg_pool2d(ins, a):
    k, s, p, ceil = pool_args(a)
    return F.avg_pool2d(ins[0], k, s, p, ceil, bool(a.get("count_include_pad", 1)))


def adaptive_avg_pool2d(ins, a):
    """Windows rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1, written out (not F's)."""
    x = ins[0]
    (oh, ow), (h, w) = a["output_size"], x.shape[2:]
    rows = []
    for i in range(oh):
        cols = []
        for j in range(ow):
            r0, r1 = (i * h) // oh, math.ceil((i + 1) * h / oh)
            c0, c1 = (j * w) // ow, math.ceil((j + 1) * w / ow)
            cols.append(x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)))
        rows.append(torch.stack(cols, dim=-1))
    return torch.stack(rows, dim=-2)


def clamp(ins, a):
    return torch.clamp(ins[0], a.get("min"), a.get("max"))


def gelu(ins, a):
    x = ins[0]
    if a.get("approximate", "none") == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def reshape(ins, a):
    x = ins[0]
    shape = [x.shape[i] if d == 0 else d for i, d in enumerate(a["shape"])]
    return x.reshape(shape)


def slice_(ins, a):
    x, axis = ins[0], a["axis"] % ins[0].dim()
    return x.narrow(axis, a["start"], a["end"] - a["start"])


def layer_norm(ins, a):
    x, norm = ins[0], a["normalized_shape"]
    dims = tuple(range(x.dim() - len(norm), x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    y = (x - mean) / torch.sqrt(var + a.get("eps", 1e-5))
    if len(ins) > 1:
        y = y * ins[1]
    if len(ins) > 2:
        y = y + ins[2]
    return y


OPS = {
    "conv2d": conv2d,
    "batchnorm": batchnorm,
    "linear": linear,
    "layer_norm": layer_norm,
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "global_avg_pool2d": lambda ins, a: ins[0].mean(dim=(2, 3), keepdim=True),
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "mean": lambda ins, a: ins[0].mean(dim=a["dims"], keepdim=bool(a.get("keepdim", 0))),
    "add": lambda ins, a: ins[0] + ins[1],
    "sub": lambda ins, a: ins[0] - ins[1],
    "mul": lambda ins, a: ins[0] * ins[1],
    "div": lambda ins, a: ins[0] / ins[1],
    "relu": lambda ins, a: torch.clamp(ins[0], min=0),
    "clamp": clamp,
    "sigmoid": lambda ins, a: 1 / (1 + torch.exp(-ins[0])),
    "silu": lambda ins, a: ins[0] / (1 + torch.exp(-ins[0])),
    "hardswish": lambda ins, a: ins[0] * torch.clamp(ins[0] + 3, 0, 6) / 6,
    "hardsigmoid": lambda ins, a: torch.clamp(ins[0] / 6 + 0.5, 0, 1),
    "tanh": lambda ins, a: torch.tanh(ins[0]),
    "gelu": gelu,
    "leaky_relu": lambda ins, a: torch.where(ins[0] >= 0, ins[0], a.get("negative_slope", 0.01) * ins[0]),
    "elu": lambda ins, a: torch.where(ins[0] > 0, ins[0], a.get("alpha", 1.0) * (torch.exp(ins[0]) - 1)),
    "flatten": lambda ins, a: ins[0].flatten(a.get("start_dim", 1)),
    "reshape": reshape,
    "permute": lambda ins, a: ins[0].permute(a["dims"]),
    "concat": lambda ins, a: torch.cat(ins, dim=a["axis"]),
    "slice": slice_,
}


def run_graph(graph, weights, inputs):
    """graph: graph.json as a dict; weights: name -> array; inputs: arrays in order."""
    values = {name: torch.from_numpy(np.asarray(w, dtype=np.float64)) for name, w in weights.items()}
    for spec, x in zip(graph["inputs"], inputs):
        values[spec["name"]] = torch.from_numpy(np.asarray(x, dtype=np.float64))
    with torch.no_grad():
        for node in graph["nodes"]:
            ins = [values[i] for i in node["inputs"]]
            values[node["name"]] = OPS[node["op"]](ins, node.get("attrs", {}))
    return [values[o].numpy() for o in graph["outputs"]]


def run_model(model_dir, *inputs):
    with open(os.path.join(model_dir, "graph.json")) as f:
        graph = json.load(f)
    weights = {p["name"]: np.load(os.path.join(model_dir, p["file"])) for p in graph["params"]}
    return run_graph(graph, weights, inputs)
