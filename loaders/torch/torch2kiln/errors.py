"""The exporter's one error type, and how FX nodes and ops are named in its messages:
as users write them (F.avg_pool2d, torch.cat, Tensor.view, a * b), not as FX records
them (torch._C._nn.avg_pool2d, _operator.mul)."""

import builtins
import operator

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F


class ExportError(Exception):
    """Anything the exporter refuses; the message is one line."""


# Python operators, as written.
OPERATORS = {
    operator.add: "a + b", operator.iadd: "a += b", operator.sub: "a - b", operator.isub: "a -= b",
    operator.mul: "a * b", operator.imul: "a *= b", operator.truediv: "a / b",
    operator.itruediv: "a /= b", operator.floordiv: "a // b", operator.mod: "a % b",
    operator.pow: "a ** b", operator.matmul: "a @ b", operator.neg: "-a",
    operator.getitem: "a[i]", operator.eq: "a == b", operator.lt: "a < b", operator.gt: "a > b",
}


def namespaces():
    """Where users find functions, tried in this order: (prefix, module)."""
    spaces = [("F", F), ("torch", torch), ("torch.Tensor", torch.Tensor)]
    try:
        import torchvision.ops
        spaces.append(("torchvision.ops", torchvision.ops))
    except ImportError:
        pass
    return spaces


def function_name(fn):
    """'F.avg_pool2d' for torch._C._nn.avg_pool2d, 'torch.cat', 'a * b' for operator.mul."""
    if fn in OPERATORS:
        return OPERATORS[fn]
    if fn is builtins.getattr:
        return "getattr"
    name = getattr(fn, "__name__", None)
    for prefix, space in namespaces():
        if name and getattr(space, name, None) is fn:
            return f"{prefix}.{name}"
    try:
        return torch.fx.node._get_qualified_name(fn)
    except Exception:  # a private function of torch.fx; fall back to the plain name
        return repr(name or fn)


def module_type_name(kind):
    """'nn.Hardswish' for torch.nn's modules, the qualified name for others."""
    if getattr(nn, kind.__name__, None) is kind:
        return f"nn.{kind.__name__}"
    return f"{kind.__module__}.{kind.__qualname__}"


def op_name(node, gm):
    """How the user wrote the op of `node`: nn.Sigmoid, F.avg_pool2d, Tensor.view, a * b."""
    if node.op == "call_module":
        return module_type_name(type(gm.get_submodule(node.target)))
    if node.op == "call_function":
        if node.target is builtins.getattr and len(node.args) == 2:
            return f"Tensor.{node.args[1]}"
        return function_name(node.target)
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return node.op


def describe(node):
    """"call_module 'layer1.0.conv1'", "call_function F.avg_pool2d", for error messages."""
    if node.op == "call_module":
        return f"call_module '{node.target}'"
    if node.op == "call_function":
        return f"call_function {function_name(node.target)}"
    if node.op == "call_method":
        return f"call_method Tensor.{node.target}"
    return f"{node.op} {node.target!r}"
