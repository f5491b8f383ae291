"""Pooling modules: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""

from .attrs import pair


def max_pool2d(b, node):
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    b.check_rank(node, x, [4], "MaxPool2d")
    if m.return_indices:
        b.fail(node, "return_indices=True is not supported")
    kernel = pair(m.kernel_size)
    stride = pair(m.stride) if m.stride is not None else kernel
    b.emit(node, "max_pool2d", [b.value[x]], {
        "kernel": kernel, "stride": stride, "padding": pair(m.padding),
        "dilation": pair(m.dilation), "ceil_mode": int(bool(m.ceil_mode))})


def avg_pool2d(b, node):
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    b.check_rank(node, x, [4], "AvgPool2d")
    if m.divisor_override is not None:
        b.fail(node, f"divisor_override={m.divisor_override} is not supported")
    kernel = pair(m.kernel_size)
    stride = pair(m.stride) if m.stride is not None else kernel
    b.emit(node, "avg_pool2d", [b.value[x]], {
        "kernel": kernel, "stride": stride, "padding": pair(m.padding),
        "ceil_mode": int(bool(m.ceil_mode)), "count_include_pad": int(bool(m.count_include_pad))})


def adaptive_avg_pool2d(b, node):
    """Only to 1x1: Kiln's global_avg_pool2d."""
    m = b.module(node)
    x = b.only_arg(node)
    b.tensor(node, x)
    b.check_rank(node, x, [4], "AdaptiveAvgPool2d")
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    in_hw = b.shape(x)[2:]
    size = [in_hw[i] if s is None else s for i, s in enumerate(size)]
    if size != [1, 1]:
        b.fail(node, f"output_size {m.output_size!r} is not supported, only (1, 1)")
    b.emit(node, "global_avg_pool2d", [b.value[x]])
