"""Arithmetic on two tensors: add of two tensors of one shape."""

import operator


def add(b, node, x, y, inplace=False, alpha=1):
    if alpha != 1:
        b.fail(node, f"alpha={alpha!r} is not supported")
    vx, vy = b.tensor(node, x, "first operand"), b.tensor(node, y, "second operand")
    if b.shape(x) != b.shape(y):
        b.fail(node, f"add needs two tensors of the same shape (no broadcasting), got "
                     f"{list(b.shape(x))} and {list(b.shape(y))}")
    if inplace:
        b.check_inplace(node, x)
        b.aliases.add(node, x)
    b.emit(node, "add", [vx, vy])


def add_operator(b, node):
    """x + y, x += y"""
    if len(node.args) != 2 or node.kwargs:
        b.unsupported(node)
    add(b, node, node.args[0], node.args[1], inplace=(node.target is operator.iadd))


def add_function(b, node):
    """torch.add(x, y, alpha=1)"""
    if len(node.args) != 2 or not set(node.kwargs) <= {"alpha"}:
        b.unsupported(node)
    add(b, node, node.args[0], node.args[1], alpha=node.kwargs.get("alpha", 1))


def add_method(b, node):
    """x.add(y, alpha=1), x.add_(y, alpha=1)"""
    if len(node.args) != 2 or not set(node.kwargs) <= {"alpha"}:
        b.unsupported(node)
    add(b, node, node.args[0], node.args[1], inplace=(node.target == "add_"),
        alpha=node.kwargs.get("alpha", 1))
