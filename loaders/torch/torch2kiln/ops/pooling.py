"""Pooling and reductions: max/avg pooling (modules and functions, with ceil_mode and
count_include_pad), adaptive average pooling to any size, and mean over dims.

An adaptive pool to its input's own size is the identity (VGG's and AlexNet's at
224x224); to 1x1 it is global_avg_pool2d."""

from .attrs import pair


def max_pool2d(b, node, x, kernel, stride, padding, dilation, ceil_mode, return_indices):
    b.tensor(node, x)
    b.check_rank(node, x, [4], "max_pool2d")
    if return_indices:
        b.fail(node, "return_indices=True is not supported")
    kernel = pair(kernel)
    b.emit(node, "max_pool2d", [b.value[x]], {
        "kernel": kernel, "stride": pair(stride) if stride else kernel, "padding": pair(padding),
        "dilation": pair(dilation), "ceil_mode": int(bool(ceil_mode))})


def avg_pool2d(b, node, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    b.tensor(node, x)
    b.check_rank(node, x, [4], "avg_pool2d")
    if divisor_override is not None:
        b.fail(node, f"divisor_override={divisor_override} is not supported")
    kernel = pair(kernel)
    b.emit(node, "avg_pool2d", [b.value[x]], {
        "kernel": kernel, "stride": pair(stride) if stride else kernel, "padding": pair(padding),
        "ceil_mode": int(bool(ceil_mode)), "count_include_pad": int(bool(count_include_pad))})


def max_pool2d_module(b, node):
    """nn.MaxPool2d"""
    m = b.module(node)
    max_pool2d(b, node, b.only_arg(node), m.kernel_size, m.stride, m.padding, m.dilation,
               m.ceil_mode, m.return_indices)


def max_pool2d_function(b, node):
    """F.max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False), torch.max_pool2d (stride=[] there means the kernel size)"""
    args = b.call_args(node, "input", "kernel_size", ("stride", None), ("padding", 0),
                       ("dilation", 1), ("ceil_mode", False), ("return_indices", False))
    max_pool2d(b, node, *args)


def avg_pool2d_module(b, node):
    """nn.AvgPool2d"""
    m = b.module(node)
    avg_pool2d(b, node, b.only_arg(node), m.kernel_size, m.stride, m.padding, m.ceil_mode,
               m.count_include_pad, m.divisor_override)


def avg_pool2d_function(b, node):
    """F.avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None) (torch._C._nn.avg_pool2d)"""
    args = b.call_args(node, "input", "kernel_size", ("stride", None), ("padding", 0),
                       ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None))
    avg_pool2d(b, node, *args)


# ---- adaptive -----------------------------------------------------------------------------

def adaptive_avg_pool2d(b, node, x, output_size):
    b.tensor(node, x)
    b.check_rank(node, x, [4], "adaptive_avg_pool2d")
    out_hw, in_hw = list(b.shape(node)[2:]), list(b.shape(x)[2:])  # None in output_size: as input
    if out_hw == in_hw:
        b.alias(node, x)
    elif out_hw == [1, 1]:
        b.emit(node, "global_avg_pool2d", [b.value[x]])
    else:
        b.emit(node, "adaptive_avg_pool2d", [b.value[x]], {"output_size": out_hw})


def adaptive_avg_pool2d_module(b, node):
    """nn.AdaptiveAvgPool2d(output_size)"""
    adaptive_avg_pool2d(b, node, b.only_arg(node), b.module(node).output_size)


def adaptive_avg_pool2d_function(b, node):
    """F.adaptive_avg_pool2d(x, output_size)"""
    x, output_size = b.call_args(node, "input", "output_size")
    adaptive_avg_pool2d(b, node, x, output_size)


# ---- mean ---------------------------------------------------------------------------------

def mean_call(b, node):
    """x.mean(dim, keepdim=False), torch.mean(x, dim, keepdim=False); over the batch or
    over every dim (x.mean()) is refused, and so is a dtype."""
    x, dim, keepdim, dtype = b.call_args(node, "input", ("dim", None), ("keepdim", False),
                                         ("dtype", None))
    b.tensor(node, x)
    rank = len(b.shape(x))
    dims = [dim] if isinstance(dim, int) else list(dim) if isinstance(dim, (tuple, list)) else None
    if dtype is not None:
        b.fail(node, f"dtype={dtype} is not supported")
    if not dims or not all(isinstance(d, int) and -rank <= d < rank for d in dims):
        b.fail(node, f"expected the dims to average over, in [-{rank}, {rank - 1}], got {dim!r}")
    dims = sorted(set(d % rank for d in dims))
    if 0 in dims:
        b.fail(node, "a mean over the batch dim is not supported (the batch stays free)")
    b.emit(node, "mean", [b.value[x]], {"dims": dims, "keepdim": int(bool(keepdim))})
