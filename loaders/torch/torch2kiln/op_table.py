"""What the exporter accepts: one row per PyTorch form, naming its handler in ops/.

A module is looked up by its exact type (a subclass of nn.Conv2d is traced through,
not trusted), a function by identity, a method by name. Anything not listed is
refused by the builder, naming the FX node. Adding an op is one handler and one row
(and its Kiln op name in EMITTED_OPS if it is new)."""

import builtins
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import activations as act
from .ops import arithmetic, layers, pooling, reshapes, shapes, slices

# Every op this exporter can write into graph.json; Builder.emit refuses any other.
# tests/parity/exporter_ops_test.cpp reads this tuple (one quoted name per
# line) and checks each op is registered in the engine.
EMITTED_OPS = (
    "adaptive_avg_pool2d",
    "add",
    "avg_pool2d",
    "batchnorm",
    "clamp",
    "concat",
    "conv2d",
    "div",
    "elu",
    "flatten",
    "gelu",
    "global_avg_pool2d",
    "hardsigmoid",
    "hardswish",
    "layer_norm",
    "leaky_relu",
    "linear",
    "max_pool2d",
    "mean",
    "mul",
    "permute",
    "relu",
    "reshape",
    "sigmoid",
    "silu",
    "slice",
    "sub",
    "tanh",
)

# call_module: the module's exact type.
MODULE_OPS = {
    nn.Conv2d: layers.conv2d,
    nn.BatchNorm2d: layers.batchnorm,
    nn.BatchNorm1d: layers.batchnorm,
    nn.Linear: layers.linear,
    nn.LayerNorm: layers.layer_norm_module,
    nn.ReLU: act.plain_module("relu"),
    nn.ReLU6: act.hardtanh_module,
    nn.Hardtanh: act.hardtanh_module,
    nn.Sigmoid: act.plain_module("sigmoid"),
    nn.SiLU: act.plain_module("silu"),
    nn.Hardswish: act.plain_module("hardswish"),
    nn.Hardsigmoid: act.plain_module("hardsigmoid"),
    nn.GELU: act.gelu_module,
    nn.Tanh: act.plain_module("tanh"),
    nn.LeakyReLU: act.leaky_relu_module,
    nn.ELU: act.elu_module,
    nn.MaxPool2d: pooling.max_pool2d_module,
    nn.AvgPool2d: pooling.avg_pool2d_module,
    nn.AdaptiveAvgPool2d: pooling.adaptive_avg_pool2d_module,
    nn.Flatten: reshapes.flatten_module,
    nn.Identity: shapes.identity,
    nn.Dropout: shapes.identity,
    nn.Dropout1d: shapes.identity,
    nn.Dropout2d: shapes.identity,
    nn.Dropout3d: shapes.identity,
    nn.AlphaDropout: shapes.identity,
}

# call_function: the function itself.
FUNCTION_OPS = {
    # arithmetic (on sizes too: c // 2)
    operator.add: arithmetic.operator_call,
    operator.iadd: arithmetic.operator_call,
    operator.sub: arithmetic.operator_call,
    operator.isub: arithmetic.operator_call,
    operator.mul: arithmetic.operator_call,
    operator.imul: arithmetic.operator_call,
    operator.truediv: arithmetic.operator_call,
    operator.itruediv: arithmetic.operator_call,
    operator.floordiv: shapes.floordiv_operator,
    torch.add: arithmetic.named_call,
    torch.sub: arithmetic.named_call,
    torch.subtract: arithmetic.named_call,
    torch.mul: arithmetic.named_call,
    torch.multiply: arithmetic.named_call,
    torch.div: arithmetic.named_call,
    torch.divide: arithmetic.named_call,
    torch.true_divide: arithmetic.named_call,
    # activations
    F.relu: act.plain_call("relu"),
    torch.relu: act.plain_call("relu"),
    torch.relu_: act.plain_call("relu"),
    F.relu6: act.relu6_function,
    F.hardtanh: act.hardtanh_function,
    F.hardtanh_: act.hardtanh_function,
    torch.clamp: act.clamp_call,
    torch.clip: act.clamp_call,
    torch.clamp_: act.clamp_call,
    torch.clip_: act.clamp_call,
    torch.sigmoid: act.plain_call("sigmoid"),
    torch.sigmoid_: act.plain_call("sigmoid"),
    F.silu: act.plain_call("silu"),
    F.hardswish: act.plain_call("hardswish"),
    F.hardsigmoid: act.plain_call("hardsigmoid"),
    F.gelu: act.gelu_function,
    torch.tanh: act.plain_call("tanh"),
    torch.tanh_: act.plain_call("tanh"),
    F.leaky_relu: act.leaky_relu_function,
    F.leaky_relu_: act.leaky_relu_function,
    F.elu: act.elu_function,
    F.elu_: act.elu_function,
    # layers
    F.linear: layers.linear_function,
    F.layer_norm: layers.layer_norm_function,
    # pooling and reductions
    F.max_pool2d: pooling.max_pool2d_function,
    torch.max_pool2d: pooling.max_pool2d_function,
    F.avg_pool2d: pooling.avg_pool2d_function,
    F.adaptive_avg_pool2d: pooling.adaptive_avg_pool2d_function,
    torch.mean: pooling.mean_call,
    # identity at inference
    F.dropout: shapes.dropout_function,
    F.dropout1d: shapes.dropout_function,
    F.dropout2d: shapes.dropout_function,
    F.dropout3d: shapes.dropout_function,
    F.alpha_dropout: shapes.dropout_function,
    # shapes, joining and cutting
    torch.flatten: reshapes.flatten_call,
    torch.reshape: reshapes.reshape_function,
    torch.unsqueeze: reshapes.unsqueeze_call,
    torch.squeeze: reshapes.squeeze_call,
    torch.permute: reshapes.permute_function,
    torch.transpose: reshapes.transpose_call,
    torch.swapaxes: reshapes.transpose_call,
    torch.swapdims: reshapes.transpose_call,
    torch.cat: slices.cat_function,
    torch.concat: slices.cat_function,
    torch.chunk: slices.chunk_call,
    torch.split: slices.split_call,
    torch.narrow: slices.narrow_call,
    operator.getitem: slices.getitem,
    builtins.getattr: shapes.shape_attribute,
}

# torchvision's stochastic depth (EfficientNet, ConvNeXt): FX records the function.
try:
    from torchvision.ops import stochastic_depth
    FUNCTION_OPS[stochastic_depth] = shapes.stochastic_depth_function
except ImportError:
    pass

# call_method: the Tensor method's name.
METHOD_OPS = {
    # arithmetic
    "add": arithmetic.named_call,
    "add_": arithmetic.named_call,
    "sub": arithmetic.named_call,
    "sub_": arithmetic.named_call,
    "mul": arithmetic.named_call,
    "mul_": arithmetic.named_call,
    "div": arithmetic.named_call,
    "div_": arithmetic.named_call,
    # activations
    "relu": act.plain_call("relu"),
    "relu_": act.plain_call("relu"),
    "clamp": act.clamp_call,
    "clamp_": act.clamp_call,
    "clip": act.clamp_call,
    "clip_": act.clamp_call,
    "sigmoid": act.plain_call("sigmoid"),
    "sigmoid_": act.plain_call("sigmoid"),
    "tanh": act.plain_call("tanh"),
    "tanh_": act.plain_call("tanh"),
    # reductions
    "mean": pooling.mean_call,
    # shapes, joining and cutting
    "size": shapes.size_method,
    "contiguous": shapes.contiguous_method,
    "flatten": reshapes.flatten_call,
    "view": reshapes.view_method,
    "reshape": reshapes.view_method,
    "unsqueeze": reshapes.unsqueeze_call,
    "squeeze": reshapes.squeeze_call,
    "permute": reshapes.permute_method,
    "transpose": reshapes.transpose_call,
    "swapaxes": reshapes.transpose_call,
    "swapdims": reshapes.transpose_call,
    "chunk": slices.chunk_call,
    "split": slices.split_call,
    "narrow": slices.narrow_call,
}
