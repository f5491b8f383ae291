"""Activations: relu as a module, a function and a method, in place or not."""

import torch


def relu(b, node, x, inplace):
    b.tensor(node, x)
    if inplace:
        b.check_inplace(node, x)
        b.aliases.add(node, x)
    b.emit(node, "relu", [b.value[x]])


def relu_module(b, node):
    """nn.ReLU(inplace=False|True)"""
    m = b.module(node)
    relu(b, node, b.only_arg(node), m.inplace)


def relu_function(b, node):
    """F.relu(x, inplace=False), torch.relu(x), torch.relu_(x)"""
    if not set(node.kwargs) <= {"inplace"}:
        b.unsupported(node)
    inplace = node.target is torch.relu_ or bool(b.arg(node, 1, "inplace", False))
    relu(b, node, node.args[0], inplace)


def relu_method(b, node):
    """x.relu(), x.relu_()"""
    if len(node.args) != 1 or node.kwargs:
        b.unsupported(node)
    relu(b, node, node.args[0], inplace=(node.target == "relu_"))
