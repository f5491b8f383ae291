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

from .ops import activations, arithmetic, layers, pooling, shapes

# Every op this exporter can write into graph.json; Builder.emit refuses any other.
# tests/parity/exporter_ops_test.cpp reads this tuple (one quoted name per
# line) and checks each op is registered in the engine.
EMITTED_OPS = (
    "add",
    "avg_pool2d",
    "batchnorm",
    "conv2d",
    "flatten",
    "global_avg_pool2d",
    "linear",
    "max_pool2d",
    "relu",
)

# call_module: the module's exact type.
MODULE_OPS = {
    nn.Conv2d: layers.conv2d,
    nn.BatchNorm2d: layers.batchnorm,
    nn.BatchNorm1d: layers.batchnorm,
    nn.Linear: layers.linear,
    nn.ReLU: activations.relu_module,
    nn.MaxPool2d: pooling.max_pool2d,
    nn.AvgPool2d: pooling.avg_pool2d,
    nn.AdaptiveAvgPool2d: pooling.adaptive_avg_pool2d,
    nn.Flatten: shapes.flatten_module,
    nn.Identity: shapes.identity,
    nn.Dropout: shapes.identity,
    nn.Dropout1d: shapes.identity,
    nn.Dropout2d: shapes.identity,
    nn.Dropout3d: shapes.identity,
}

# call_function: the function itself.
FUNCTION_OPS = {
    operator.add: arithmetic.add_operator,
    operator.iadd: arithmetic.add_operator,
    torch.add: arithmetic.add_function,
    F.relu: activations.relu_function,
    torch.relu: activations.relu_function,
    torch.relu_: activations.relu_function,
    torch.flatten: shapes.flatten_call,
    torch.reshape: shapes.reshape_function,
    builtins.getattr: shapes.shape_attribute,
    operator.getitem: shapes.shape_item,
}

# call_method: the Tensor method's name.
METHOD_OPS = {
    "add": arithmetic.add_method,
    "add_": arithmetic.add_method,
    "relu": activations.relu_method,
    "relu_": activations.relu_method,
    "flatten": shapes.flatten_call,
    "view": shapes.view_method,
    "reshape": shapes.view_method,
    "size": shapes.size_method,
    "contiguous": shapes.contiguous_method,
}
