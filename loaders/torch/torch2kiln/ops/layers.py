"""Modules with weights: Conv2d, BatchNorm1d/2d, Linear."""

import torch.nn as nn

from .attrs import pair


def conv2d(b, node):
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    b.check_rank(node, x, [4], "Conv2d")
    if m.padding_mode != "zeros":
        b.fail(node, f"padding_mode '{m.padding_mode}' is not supported, only 'zeros'")
    if m.padding == "valid":
        padding = [0, 0]
    elif m.padding == "same":
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        if any(t % 2 for t in total):
            b.fail(node, f"padding='same' with kernel {list(m.kernel_size)} and dilation "
                         f"{list(m.dilation)} pads unevenly; Kiln's conv2d pads symmetrically")
        padding = [t // 2 for t in total]
    else:
        padding = pair(m.padding)
    inputs = [b.value[x], b.param(node, "weight")]
    if m.bias is not None:
        inputs.append(b.param(node, "bias"))
    b.emit(node, "conv2d", inputs, {"stride": pair(m.stride), "padding": padding,
                                    "dilation": pair(m.dilation), "groups": int(m.groups)})


def batchnorm(b, node):
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    if isinstance(m, nn.BatchNorm1d):
        b.check_rank(node, x, [2], "BatchNorm1d (Kiln's batchnorm takes [N, C] here)")
    else:
        b.check_rank(node, x, [4], "BatchNorm2d")
    if not m.track_running_stats or m.running_mean is None or m.running_var is None:
        b.fail(node, "track_running_stats=False normalises with batch statistics; "
                     "only BatchNorm with running statistics is supported")
    if m.training:
        b.fail(node, "BatchNorm in training mode; export puts the module in eval mode")
    inputs = [b.value[x], b.param(node, "running_mean"), b.param(node, "running_var")]
    if m.affine:
        inputs += [b.param(node, "weight"), b.param(node, "bias")]
    b.emit(node, "batchnorm", inputs, {"eps": float(m.eps)})


def linear(b, node):
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    b.check_rank(node, x, [2], "Linear (Kiln's linear takes [N, IN])")
    inputs = [b.value[x], b.param(node, "weight")]
    if m.bias is not None:
        inputs.append(b.param(node, "bias"))
    b.emit(node, "linear", inputs)
