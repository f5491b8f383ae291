"""Layers with weights: Conv2d, BatchNorm1d/2d, Linear and F.linear, LayerNorm and
F.layer_norm. A function's weights are module tensors (FX get_attr, builder.py)."""

import numbers

import torch
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
    """nn.Linear, on [N, ..., IN]"""
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    inputs = [b.value[x], b.param(node, "weight")]
    if m.bias is not None:
        inputs.append(b.param(node, "bias"))
    b.emit(node, "linear", inputs)


def linear_function(b, node):
    """F.linear(x, weight, bias=None), the weights module tensors"""
    x, weight, bias = b.call_args(node, "input", "weight", ("bias", None))
    inputs = [b.tensor(node, x), parameter(b, node, weight, "weight")]
    if bias is not None:
        inputs.append(parameter(b, node, bias, "bias"))
    b.emit(node, "linear", inputs)


def parameter(b, node, arg, what):
    if not b.is_constant(arg):
        b.fail(node, f"{what} must be a module tensor (a parameter), got {arg!r}")
    return b.value[arg]


def layer_norm(b, node, x, normalized_shape, weight, bias, eps):
    """Emits layer_norm; weight and bias are Kiln value names or None. A bias alone gets
    a weight of ones (Kiln's layer_norm takes no weight, the weight, or both)."""
    b.tensor(node, x)
    shape = list(b.shape(x))
    norm = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    if not 1 <= len(norm) < len(shape) or shape[len(shape) - len(norm):] != norm:
        b.fail(node, f"normalized_shape {norm} must be the last dims of the input "
                     f"{shape}, without the batch dim")
    if not isinstance(eps, numbers.Real):
        b.fail(node, f"eps must be a number, got {eps!r}")
    if bias is not None and weight is None:
        weight = b.constant(node, torch.ones(norm), f"{node.name}.weight")
    inputs = [b.value[x]] + [w for w in (weight, bias) if w is not None]
    b.emit(node, "layer_norm", inputs, {"normalized_shape": norm, "eps": float(eps)})


def layer_norm_module(b, node):
    """nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)"""
    m = b.module(node)
    weight = b.param(node, "weight") if m.weight is not None else None
    bias = b.param(node, "bias") if m.bias is not None else None
    layer_norm(b, node, b.only_arg(node), m.normalized_shape, weight, bias, m.eps)


def layer_norm_function(b, node):
    """F.layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)"""
    x, norm, weight, bias, eps = b.call_args(node, "input", "normalized_shape", ("weight", None),
                                             ("bias", None), ("eps", 1e-5))
    weight = None if weight is None else parameter(b, node, weight, "weight")
    bias = None if bias is None else parameter(b, node, bias, "bias")
    layer_norm(b, node, x, norm, weight, bias, eps)
