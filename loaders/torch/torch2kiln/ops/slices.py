"""Joining and cutting along a dim: torch.cat (concat), and chunk / split / narrow /
x[a:b] (slice: Kiln's graph keeps one output per node, so each piece is its own slice
node). Neither may touch the batch dim.

x.chunk() and x.split() give a tuple; the builder records its pieces in b.pieces (FX
node -> [(axis, start, end)]) and each getitem on it emits that piece's slice. The
pieces come from running the same split on torch.arange(size): PyTorch's own rule."""

import torch
import torch.fx

from . import reshapes, shapes


def axis_of(b, node, x, dim, what):
    """dim as a non-negative axis of x; the batch (0) is refused."""
    b.tensor(node, x)
    rank = len(b.shape(x))
    if not isinstance(dim, int) or not -rank <= dim < rank:
        b.fail(node, f"{what}: expected an integer dim in [-{rank}, {rank - 1}], got {dim!r}")
    if dim % rank == 0:
        b.fail(node, f"{what} along dim 0 would change the batch; only dims >= 1 are supported")
    return dim % rank


def emit_slice(b, node, x, axis, start, end):
    """x[..., start:end, ...] along axis; the whole dim is no node at all."""
    if start == 0 and end == b.shape(x)[axis]:
        b.alias(node, x)
    else:
        reshapes.view_of(b, node, x, "slice", {"axis": axis, "start": start, "end": end})


# ---- concat -----------------------------------------------------------------------------

def cat_function(b, node):
    """torch.cat(tensors, dim=0), torch.concat(tensors, dim=0)"""
    tensors, dim = b.call_args(node, "tensors", ("dim", 0))
    if not isinstance(tensors, (tuple, list)) or not tensors:
        b.fail(node, f"expected a list of tensors, got {tensors!r}")
    axis = axis_of(b, node, tensors[0], dim, "torch.cat")
    inputs = [b.tensor(node, t, f"tensor {i}") for i, t in enumerate(tensors)]
    if len(inputs) == 1:
        b.alias(node, tensors[0])
    else:
        b.emit(node, "concat", inputs, {"axis": axis})


# ---- chunk / split / narrow: pieces of one dim -------------------------------------------

def pieces(b, node, x, dim, what, split):
    """Records the pieces `split` (a function of a 1-D tensor) makes of x along dim."""
    axis = axis_of(b, node, x, dim, what)
    parts = split(torch.arange(b.shape(x)[axis]))
    b.pieces[node] = (x, [(axis, int(p[0]), int(p[-1]) + 1) for p in parts])


def chunk_call(b, node):
    """torch.chunk(x, chunks, dim=0), x.chunk(chunks, dim=0)"""
    x, chunks, dim = b.call_args(node, "input", "chunks", ("dim", 0))
    if not isinstance(chunks, int) or chunks < 1:
        b.fail(node, f"expected a positive integer number of chunks, got {chunks!r}")
    pieces(b, node, x, dim, "chunk", lambda t: t.chunk(chunks))


def split_call(b, node):
    """torch.split(x, split_size_or_sections, dim=0), x.split(...)"""
    x, size, dim = b.call_args(node, "tensor", "split_size_or_sections", ("dim", 0))
    ok = (isinstance(size, int) and size > 0) or (
        isinstance(size, (tuple, list)) and all(isinstance(s, int) and s > 0 for s in size))
    if not ok:
        b.fail(node, f"expected a positive split size or a list of them, got {size!r}")
    pieces(b, node, x, dim, "split", lambda t: t.split(size))


def narrow_call(b, node):
    """torch.narrow(x, dim, start, length), x.narrow(dim, start, length)"""
    x, dim, start, length = b.call_args(node, "input", "dim", "start", "length")
    axis = axis_of(b, node, x, dim, "narrow")
    start = shapes.fixed_size(b, node, start, "start") % b.shape(x)[axis]
    length = shapes.fixed_size(b, node, length, "length")
    emit_slice(b, node, x, axis, start, start + length)


# ---- getitem: on sizes, on a tuple of pieces, on a tensor --------------------------------

def getitem(b, node):
    """sizes[i], pieces[i] (x.chunk(2)[0]), x[:, a:b], x[..., 0], x[:, None]"""
    if len(node.args) != 2 or node.kwargs:
        b.unsupported(node)
    src, index = node.args
    if isinstance(src, torch.fx.Node) and src in b.shape_info:
        shapes.shape_item(b, node, b.shape_info[src], index)
    elif isinstance(src, torch.fx.Node) and src in b.pieces:
        x, parts = b.pieces[src]
        if not isinstance(index, int) or not -len(parts) <= index < len(parts):
            b.fail(node, f"expected an integer index of one of the {len(parts)} pieces, got {index!r}")
        emit_slice(b, node, x, *parts[index])
    else:
        tensor_index(b, node, src, index)


def tensor_index(b, node, x, index):
    """Basic indexing: slices with step 1, integers, None and one Ellipsis; the batch dim
    must be `:`. Exported as one slice per cut axis, then a reshape if the rank changes."""
    b.tensor(node, x)
    shape = b.shape(x)
    items = list(index) if isinstance(index, tuple) else [index]
    if sum(i is Ellipsis for i in items) > 1:
        b.fail(node, "expected at most one '...' in the index")
    if Ellipsis in items:
        k = items.index(Ellipsis)
        fill = len(shape) - sum(i is not None for i in items if i is not Ellipsis)
        items[k:k + 1] = [slice(None)] * fill
    cuts, axis = [], 0  # (axis, start, end) to cut; axis walks the input's dims
    for i in items:
        if axis == 0 and not whole(i):
            b.fail(node, f"the batch dim must be indexed with ':', got {i!r}")
        if i is None:
            continue
        if axis >= len(shape):
            b.fail(node, f"too many indices for a tensor of rank {len(shape)}")
        d = shape[axis]
        if isinstance(i, slice):
            start, stop, step = (None if v is None else shapes.fixed_size(b, node, v, "slice bound")
                                 for v in (i.start, i.stop, i.step))
            start, end, step = slice(start, stop, step).indices(d)
        elif shapes.size_of(b, i) is not None:
            start = shapes.fixed_size(b, node, i, "index") % d
            end, step = start + 1, 1
        else:
            b.fail(node, f"only slices, integers, None and '...' are supported as indices, got {i!r}")
        if step != 1 or start >= end:
            b.fail(node, f"dim {axis}: expected a non-empty slice with step 1, got {i!r}")
        cuts.append((axis, start, end))
        axis += 1
    b.alias(node, x)
    sliced = list(shape)
    for axis_, start, end in cuts:
        if (start, end) != (0, shape[axis_]):
            b.emit(node, "slice", [b.value[node]], {"axis": axis_, "start": start, "end": end})
        sliced[axis_] = end - start
    if list(b.shape(node)) != sliced:  # integers dropped dims, None added some
        b.emit(node, "reshape", [b.value[node]], {"shape": [0] + list(b.shape(node)[1:])})


def whole(i):
    """`:` (the whole dim), as x[:, ...] writes it for the batch."""
    return isinstance(i, slice) and i.start in (None, 0) and i.stop is None and i.step in (None, 1)
