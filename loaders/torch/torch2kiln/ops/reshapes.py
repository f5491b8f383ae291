"""Views that move no data or only reorder it: flatten, view/reshape, squeeze/unsqueeze,
permute/transpose. The batch stays dim 0 and free: a reshape writes 0 there (ONNX's
"copy the input's dim"), and the other dims as the example input fixes them.

Each result is also a view of its input for the in-place check (aliases.py)."""

import math

from . import shapes


def view_of(b, node, x, op, attrs):
    """Emits `op` and records that the result shares x's storage."""
    b.emit(node, op, [b.value[x]], attrs)
    b.aliases.add(node, x)


# ---- flatten --------------------------------------------------------------------------

def flatten(b, node, x, start_dim, end_dim=-1):
    """Emits flatten(start_dim) after checking it keeps the batch dim and ends at the last
    dim; any other flatten is a reshape."""
    b.tensor(node, x)
    rank = len(b.shape(x))
    if not isinstance(start_dim, int) or not isinstance(end_dim, int):
        b.fail(node, f"expected integer start_dim/end_dim, got {start_dim!r}, {end_dim!r}")
    start, end = start_dim % rank, end_dim % rank
    if start == 0:
        b.fail(node, "flatten from dim 0 would merge the batch dim; only start_dim >= 1 is supported")
    if start >= end:
        b.alias(node, x)  # flattening one dim is a no-op
    elif end != rank - 1:
        reshape_to(b, node, x)
    else:
        view_of(b, node, x, "flatten", {"start_dim": start})


def flatten_module(b, node):
    """nn.Flatten(start_dim=1, end_dim=-1)"""
    m = b.module(node)
    flatten(b, node, b.only_arg(node), m.start_dim, m.end_dim)


def flatten_call(b, node):
    """torch.flatten(x, start_dim=0, end_dim=-1), x.flatten(start_dim=0, end_dim=-1)"""
    x, start_dim, end_dim = b.call_args(node, "input", ("start_dim", 0), ("end_dim", -1))
    flatten(b, node, x, start_dim, end_dim)


# ---- view / reshape ---------------------------------------------------------------------

def view_method(b, node):
    """x.view(*shape), x.view(shape), x.reshape(*shape), x.reshape(shape)"""
    if node.kwargs or len(node.args) < 2:
        b.unsupported(node)
    reshape(b, node, node.args[0], list(node.args[1:]))


def reshape_function(b, node):
    """torch.reshape(x, shape)"""
    x, shape = b.call_args(node, "input", "shape")
    reshape(b, node, x, [shape])


def reshape(b, node, x, dims):
    """x.view(dims): dim 0 must be x.size(0), or -1 with the other dims fixed (then it
    is the batch). A view that is a flatten from some dim >= 1 is exported as flatten."""
    b.tensor(node, x)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = list(dims[0])  # x.view((n, -1))
    elif len(dims) == 1 and isinstance(b.shape_info.get(dims[0]), tuple):
        dims = list(b.shape_info[dims[0]])  # x.view(y.size())
    sizes = [shapes.size_of(b, d) for d in dims]
    if not sizes or any(s is None for s in sizes):
        b.fail(node, f"expected the new shape as integers or sizes (x.size(d)), got {dims!r}")
    in_shape, out_shape = b.shape(x), b.shape(node)
    batch_kept = sizes[0] == shapes.BATCH or (sizes[0] == -1 and out_shape[0] == in_shape[0])
    if not batch_kept or shapes.BATCH in sizes[1:]:
        b.fail(node, f"dim 0 of the new shape must be x.size(0), or -1 with the other dims "
                     f"fixed (the batch stays in dim 0 and free), got {dims!r}")
    s = len(out_shape) - 1
    if out_shape == in_shape:
        b.alias(node, x)
    elif (1 <= s < len(in_shape) and out_shape[:s] == in_shape[:s]
          and out_shape[s] == math.prod(in_shape[s:])):
        view_of(b, node, x, "flatten", {"start_dim": s})
    else:
        reshape_to(b, node, x)


def reshape_to(b, node, x):
    """A reshape to the node's shape, the batch (0: copied from the input) kept free."""
    view_of(b, node, x, "reshape", {"shape": [0] + list(b.shape(node)[1:])})


def unsqueeze_call(b, node):
    """torch.unsqueeze(x, dim), x.unsqueeze(dim)"""
    x, dim = b.call_args(node, "input", "dim")
    b.tensor(node, x)
    if not isinstance(dim, int) or dim % (len(b.shape(x)) + 1) == 0:
        b.fail(node, f"unsqueeze: expected an integer dim after the batch dim, got {dim!r}")
    reshape_to(b, node, x)


def squeeze_call(b, node):
    """torch.squeeze(x, dim), x.squeeze(dim); without a dim it is refused, since at
    batch 1 it would also squeeze the batch."""
    x, dim = b.call_args(node, "input", ("dim", None))
    b.tensor(node, x)
    if not isinstance(dim, int) or dim % len(b.shape(x)) == 0:
        b.fail(node, f"squeeze: expected an integer dim after the batch dim, got {dim!r}")
    if b.shape(node) == b.shape(x):
        b.alias(node, x)  # that dim is not 1: squeeze does nothing
    else:
        reshape_to(b, node, x)


# ---- permute / transpose ---------------------------------------------------------------

def permute(b, node, x, dims):
    b.tensor(node, x)
    rank = len(b.shape(x))
    if not all(isinstance(d, int) for d in dims) or sorted(d % rank for d in dims) != list(range(rank)):
        b.fail(node, f"expected a permutation of the dims 0..{rank - 1}, got {list(dims)}")
    dims = [d % rank for d in dims]
    if dims[0] != 0:
        b.fail(node, f"permute must keep the batch dim first, got dims {dims}")
    if dims == list(range(rank)):
        b.alias(node, x)
    else:
        view_of(b, node, x, "permute", {"dims": dims})


def permute_method(b, node):
    """x.permute(*dims), x.permute(dims)"""
    if node.kwargs or len(node.args) < 2:
        b.unsupported(node)
    dims = node.args[1:]
    permute(b, node, node.args[0], list(dims[0]) if isinstance(dims[0], (tuple, list)) else list(dims))


def permute_function(b, node):
    """torch.permute(x, dims)"""
    x, dims = b.call_args(node, "input", "dims")
    permute(b, node, x, list(dims))


def transpose_call(b, node):
    """torch.transpose(x, dim0, dim1), x.transpose, and swapaxes / swapdims"""
    x, d0, d1 = b.call_args(node, "input", "dim0", "dim1")
    b.tensor(node, x)
    rank = len(b.shape(x))
    if not isinstance(d0, int) or not isinstance(d1, int):
        b.fail(node, f"expected integer dims, got {d0!r}, {d1!r}")
    dims = list(range(rank))
    dims[d0 % rank], dims[d1 % rank] = dims[d1 % rank], dims[d0 % rank]
    permute(b, node, x, dims)
