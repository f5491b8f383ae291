"""Elementwise arithmetic: add, sub, mul, div with NumPy broadcasting (OPSPEC).

An operand is a tensor computed from the input, a module tensor (a parameter) or a
number (a parameter of shape []); at least one is computed from the input (a
computation on module tensors alone is done at export, builder.py). The batch stays
free: a parameter that would broadcast along dim 0 must have size 1 there. On sizes
(`x.size(1) // 2`) the same Python operators are shape arithmetic (shapes.py)."""

import numbers
import operator

import torch.fx

from . import shapes

# Python's operators: Kiln op, and whether it is the in-place form (x += y).
OPERATORS = {
    operator.add: ("add", False), operator.iadd: ("add", True),
    operator.sub: ("sub", False), operator.isub: ("sub", True),
    operator.mul: ("mul", False), operator.imul: ("mul", True),
    operator.truediv: ("div", False), operator.itruediv: ("div", True),
}
# torch.add / Tensor.add and friends, by name (a trailing "_" is the in-place form).
NAMED = {"add": "add", "sub": "sub", "subtract": "sub", "mul": "mul", "multiply": "mul",
         "div": "div", "divide": "div", "true_divide": "div"}


def binary(b, node, op, x, y, inplace=False):
    if shapes.is_size_arithmetic(b, x, y):
        shapes.size_arithmetic(b, node, op, x, y)
        return
    a, a_computed = operand(b, node, x, "first operand")
    c, c_computed = operand(b, node, y, "second operand")
    if not (a_computed or c_computed):
        b.fail(node, "expected at least one operand computed from the graph input")
    out_rank = len(b.shape(node))
    for arg, name, computed in ((x, a, a_computed), (y, c, c_computed)):
        shape = list(b.shape(arg)) if computed else list(b.params[name].shape)
        if computed and len(shape) != out_rank:
            b.fail(node, f"an operand of shape {shape} broadcast to rank {out_rank} would "
                         "align its batch dim with another dim; Kiln keeps the batch in dim 0")
        if not computed and len(shape) == out_rank and shape[0] != 1:
            b.fail(node, f"the module tensor '{name}' of shape {shape} would fix the batch size "
                         "(dim 0 must be 1 to broadcast over the batch)")
    if inplace:
        if not a_computed:
            b.fail(node, f"modifies the module tensor '{a}' in place")
        b.check_inplace(node, x)
        b.aliases.add(node, x)
    b.emit(node, op, [a, c])


def operand(b, node, v, what):
    """(Kiln value name, computed from the input?) of an operand; numbers and fixed sizes
    become parameters of shape []."""
    if isinstance(v, torch.fx.Node) and v in b.shape_info:
        return b.scalar(node, shapes.fixed_size(b, node, v, what)), False
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return b.scalar(node, v), False
    name = b.operand(node, v, what)
    return name, not b.is_constant(v)


def operator_call(b, node):
    """x + y, x - y, x * y, x / y and x += y, x -= y, x *= y, x /= y"""
    if len(node.args) != 2 or node.kwargs:
        b.unsupported(node)
    op, inplace = OPERATORS[node.target]
    binary(b, node, op, node.args[0], node.args[1], inplace)


def named_call(b, node):
    """torch.add(x, y, alpha=1), torch.sub, torch.mul, torch.div(x, y, rounding_mode=None),
    torch.true_divide, and the Tensor methods x.add(y), x.add_(y), ..."""
    name = node.target if isinstance(node.target, str) else node.target.__name__
    x, y, alpha, rounding = b.call_args(node, "input", "other", ("alpha", 1),
                                        ("rounding_mode", None))
    if alpha != 1:
        b.fail(node, f"alpha={alpha!r} is not supported")
    if rounding is not None:
        b.fail(node, f"rounding_mode={rounding!r} is not supported")
    binary(b, node, NAMED[name.rstrip("_")], x, y, inplace=name.endswith("_"))
