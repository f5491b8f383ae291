"""Sizes, and what is the identity at inference.

x.size(), x.size(d), x.shape, x.shape[d], x.size()[2:] and arithmetic on them
(`c // 2`) make no Kiln node: the builder records them in b.shape_info, FX node ->
a size or a tuple of sizes. A size is an int, fixed by the example input, or BATCH:
the batch dim, free at export. view/reshape (reshapes.py) and slicing (slices.py)
read them; arithmetic on the batch size is refused (it would fix the batch)."""

import operator

import torch.fx

BATCH = "N"  # x.size(0): the batch size, chosen by the engine at compile time

ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "floordiv": operator.floordiv}


# ---- identity at inference ------------------------------------------------------------

def identity(b, node):
    """nn.Identity, nn.Dropout*: users read the input."""
    b.alias(node, b.only_arg(node))


def contiguous_method(b, node):
    """x.contiguous()"""
    x, = b.call_args(node, "self")
    b.alias(node, x)


def dropout_function(b, node):
    """F.dropout(x, p=0.5, training=True, inplace=False) and F.dropout1d/2d/3d,
    F.alpha_dropout: the identity at eval (a module's forward passes self.training)."""
    x, _, training, _ = b.call_args(node, "input", ("p", 0.5), ("training", True), ("inplace", False))
    if training:
        b.fail(node, "dropout with training=True is random; at inference it must be training=False")
    b.alias(node, x)


def stochastic_depth_function(b, node):
    """torchvision.ops.stochastic_depth(x, p, mode, training=True): the identity at eval."""
    x, _, _, training = b.call_args(node, "input", "p", "mode", ("training", True))
    if training:
        b.fail(node, "stochastic depth with training=True is random; at inference it must be "
                     "training=False")
    b.alias(node, x)


# ---- sizes ------------------------------------------------------------------------------

def size_method(b, node):
    """x.size(), x.size(d)"""
    x, dim = b.call_args(node, "self", ("dim", None))
    sizes = tensor_sizes(b, node, x)
    b.shape_info[node] = sizes if dim is None else pick(b, node, sizes, dim)


def shape_attribute(b, node):
    """x.shape, which FX records as getattr(x, "shape")"""
    if len(node.args) != 2 or node.args[1] != "shape" or node.kwargs:
        b.unsupported(node)
    b.shape_info[node] = tensor_sizes(b, node, node.args[0])


def shape_item(b, node, sizes, index):
    """x.shape[d], x.size()[d], x.size()[2:]"""
    if isinstance(index, slice):
        b.shape_info[node] = sizes[index]
    else:
        b.shape_info[node] = pick(b, node, sizes, index)


def tensor_sizes(b, node, x):
    b.tensor(node, x, "the tensor whose size is taken")
    shape = b.shape(x)
    return (BATCH,) + tuple(shape[1:])


def pick(b, node, sizes, dim):
    if isinstance(sizes, tuple) and isinstance(dim, int) and -len(sizes) <= dim < len(sizes):
        return sizes[dim]
    b.fail(node, f"expected an integer dim in range for sizes {list(sizes)}, got {dim!r}")


def size_of(b, v):
    """An int, BATCH, or None when `v` is not a size (a literal int counts as one)."""
    s = b.shape_info.get(v) if isinstance(v, torch.fx.Node) else v
    if s == BATCH or (isinstance(s, int) and not isinstance(s, bool)):
        return s
    return None


def fixed_size(b, node, v, what):
    """The int a size stands for; the batch size is refused (the batch stays free)."""
    s = size_of(b, v)
    if s == BATCH:
        b.fail(node, f"{what}: uses the batch size x.size(0), which Kiln leaves free at export")
    if s is None:
        b.fail(node, f"{what}: expected an integer or a size, got {v!r}")
    return s


def is_size_arithmetic(b, x, y):
    """Neither operand is a tensor: both are numbers or sizes, at least one a size."""
    sizes = [isinstance(v, torch.fx.Node) and v in b.shape_info for v in (x, y)]
    plain = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)]
    return any(sizes) and all(s or p for s, p in zip(sizes, plain))


def size_arithmetic(b, node, op, x, y):
    """c // 2, h * w: sizes computed at export. With the batch size it is refused."""
    a = x if not isinstance(x, torch.fx.Node) else fixed_size(b, node, x, "first operand")
    c = y if not isinstance(y, torch.fx.Node) else fixed_size(b, node, y, "second operand")
    b.shape_info[node] = ARITHMETIC[op](a, c)


def floordiv_operator(b, node):
    """c // 2 on sizes (on tensors it is not supported)"""
    if len(node.args) != 2 or node.kwargs or not is_size_arithmetic(b, *node.args):
        b.unsupported(node)
    size_arithmetic(b, node, "floordiv", *node.args)
