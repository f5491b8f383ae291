"""Identity at inference, flatten, and the views and shape arithmetic that amount to a
flatten: x.view(x.size(0), -1), x.reshape(x.shape[0], -1), x.view(-1, C*H*W).

x.size(d), x.size(), x.shape and x.shape[d] make no Kiln node; the builder records
them in b.shape_info (FX node -> (tensor FX node, dim or None)) so that a view's
target shape can be checked: dim 0 must stay the batch, the others fixed."""

import math

import torch.fx


def identity(b, node):
    """nn.Identity, nn.Dropout*: users read the input."""
    b.alias(node, b.only_arg(node))


def contiguous_method(b, node):
    """x.contiguous()"""
    if len(node.args) != 1 or node.kwargs:
        b.unsupported(node)
    b.alias(node, node.args[0])


# ---- flatten ------------------------------------------------------------------------

def flatten(b, node, x, start_dim, end_dim=-1):
    """Emits flatten(start_dim) after checking it keeps the batch dim and ends at the last dim."""
    b.tensor(node, x)
    rank = len(b.shape(x))
    if not isinstance(start_dim, int) or not isinstance(end_dim, int):
        b.fail(node, f"expected integer start_dim/end_dim, got {start_dim!r}, {end_dim!r}")
    start, end = start_dim % rank, end_dim % rank
    if end != rank - 1:
        b.fail(node, f"flatten must end at the last dim, got end_dim={end_dim} for rank {rank}")
    if start == 0:
        b.fail(node, "flatten from dim 0 would merge the batch dim; only start_dim >= 1 is supported")
    if start == rank - 1:
        b.alias(node, x)  # flattening one dim is a no-op
    else:
        b.emit(node, "flatten", [b.value[x]], {"start_dim": start})
        b.aliases.add(node, x)  # a view: it shares x's storage (for check_inplace)


def flatten_module(b, node):
    """nn.Flatten(start_dim=1, end_dim=-1)"""
    m = b.module(node)
    flatten(b, node, b.only_arg(node), m.start_dim, m.end_dim)


def flatten_call(b, node):
    """torch.flatten(x, start_dim=0, end_dim=-1), x.flatten(start_dim=0, end_dim=-1)"""
    if not set(node.kwargs) <= {"start_dim", "end_dim"}:
        b.unsupported(node)
    flatten(b, node, node.args[0], b.arg(node, 1, "start_dim", 0), b.arg(node, 2, "end_dim", -1))


# ---- view / reshape -----------------------------------------------------------------

def view_method(b, node):
    """x.view(*shape), x.reshape(*shape)"""
    if node.kwargs:
        b.unsupported(node)
    view_as_flatten(b, node, node.args[0], list(node.args[1:]))


def reshape_function(b, node):
    """torch.reshape(x, shape)"""
    if len(node.args) != 2 or node.kwargs:
        b.unsupported(node)
    view_as_flatten(b, node, node.args[0], [node.args[1]])


def view_as_flatten(b, node, x, dims):
    """x.view(...) / x.reshape(...) is supported where it is a flatten from some dim >= 1."""
    b.tensor(node, x)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = list(dims[0])
    if not dims:
        b.fail(node, "expected a target shape")
    d0, rest = dims[0], dims[1:]
    if not (is_batch_size(b, d0) or (d0 == -1 and all(is_fixed_size(b, d) for d in rest))):
        b.fail(node, f"dim 0 of the new shape must be x.size(0) or -1 (the batch stays free), "
                     f"got {d0!r}")
    if not all(d == -1 or is_fixed_size(b, d) for d in rest):
        b.fail(node, f"dims 1.. of the new shape must be integers or x.size(d), got {rest!r}")
    in_shape, out_shape = b.shape(x), b.shape(node)
    s = len(out_shape) - 1
    is_flatten = (1 <= s < len(in_shape) and out_shape[0] == in_shape[0]
                  and out_shape[1:s] == in_shape[1:s] and out_shape[s] == math.prod(in_shape[s:]))
    if not is_flatten:
        b.fail(node, f"only a flatten from dim >= 1 is supported, got shape {list(in_shape)} "
                     f"-> {list(out_shape)}")
    flatten(b, node, x, s)


# ---- shape arithmetic: x.size(0), x.shape[0] ----------------------------------------

def size_method(b, node):
    """x.size(), x.size(d)"""
    if len(node.args) > 2 or not set(node.kwargs) <= {"dim"}:
        b.unsupported(node)
    shape_node(b, node, node.args[0], b.arg(node, 1, "dim", None))


def shape_attribute(b, node):
    """x.shape, which FX records as getattr(x, "shape")"""
    if len(node.args) != 2 or node.args[1] != "shape":
        b.unsupported(node)
    shape_node(b, node, node.args[0], None)


def shape_item(b, node):
    """x.shape[d], x.size()[d]; any other indexing is not supported."""
    args = node.args
    if len(args) != 2 or args[0] not in b.shape_info:
        b.unsupported(node)
    src, dim = b.shape_info[args[0]]
    if dim is not None:
        b.unsupported(node)
    shape_node(b, node, src, args[1])


def shape_node(b, node, src, dim):
    if not isinstance(src, torch.fx.Node) or src not in b.value:
        b.fail(node, f"expected the shape of a tensor computed by the graph, got {src!r}")
    if dim is not None and not isinstance(dim, int):
        b.fail(node, f"expected an integer dim, got {dim!r}")
    b.shape_info[node] = (src, dim)


def is_batch_size(b, arg):
    info = b.shape_info.get(arg) if isinstance(arg, torch.fx.Node) else None
    return info is not None and info[1] is not None and info[1] % len(b.shape(info[0])) == 0


def is_fixed_size(b, arg):
    """A literal int or x.size(d) for a non-batch d: fixed by the example input."""
    if isinstance(arg, int):
        return True
    info = b.shape_info.get(arg) if isinstance(arg, torch.fx.Node) else None
    return info is not None and info[1] is not None and not is_batch_size(b, arg)
