"""Activations as modules, functions and methods, in place or not (docs/EXPORT.md):
relu, sigmoid, silu, hardswish, hardsigmoid, tanh; clamp (relu6, hardtanh, clamp,
clip); gelu, leaky_relu, elu with their attribute (gelu's approximate, leaky_relu's
negative_slope, elu's alpha)."""

import numbers


def activation(b, node, x, op, attrs=None, inplace=False):
    """Emits `op` on the tensor x; an in-place op is refused if x is read afterwards."""
    b.tensor(node, x)
    if inplace:
        b.check_inplace(node, x)
        b.aliases.add(node, x)
    b.emit(node, op, [b.value[x]], attrs)


def trailing_underscore(node):
    """x.relu_(), torch.sigmoid_(x), F.hardtanh_(x): PyTorch's in-place spelling."""
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    return name.endswith("_")


def real(b, node, what, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        b.fail(node, f"{what} must be a number, got {v!r}")
    return float(v)


# ---- no attributes: relu, sigmoid, silu, hardswish, hardsigmoid, tanh -----------------

def plain_module(op):
    """The handler of nn.ReLU, nn.Sigmoid, nn.SiLU, ...: `op` on the input, in place when
    the module says so."""
    def handler(b, node):
        m = b.module(node)
        activation(b, node, b.only_arg(node), op, inplace=bool(getattr(m, "inplace", False)))
    return handler


def plain_call(op):
    """The handler of F.relu(x, inplace=False), torch.relu(x), torch.relu_(x), x.relu(),
    x.relu_() and the like for the other ops: `op` on the input."""
    def handler(b, node):
        x, inplace = b.call_args(node, "input", ("inplace", False))
        activation(b, node, x, op, inplace=bool(inplace) or trailing_underscore(node))
    return handler


# ---- clamp: relu6, hardtanh, clamp, clip ----------------------------------------------

def clamp(b, node, x, lo, hi, inplace):
    attrs = {}
    if lo is not None:
        attrs["min"] = real(b, node, "min", lo)
    if hi is not None:
        attrs["max"] = real(b, node, "max", hi)
    if not attrs:
        b.fail(node, "clamp needs min or max (or both)")
    if lo is not None and hi is not None and attrs["min"] > attrs["max"]:
        b.fail(node, f"clamp needs min <= max, got min {lo!r} > max {hi!r}")
    activation(b, node, x, "clamp", attrs, inplace)


def hardtanh_module(b, node):
    """nn.Hardtanh(min_val, max_val, inplace), nn.ReLU6(inplace) (a Hardtanh(0, 6))"""
    m = b.module(node)
    clamp(b, node, b.only_arg(node), m.min_val, m.max_val, m.inplace)


def hardtanh_function(b, node):
    """F.hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False), F.hardtanh_(x, ...)"""
    x, lo, hi, inplace = b.call_args(node, "input", ("min_val", -1.0), ("max_val", 1.0),
                                     ("inplace", False))
    clamp(b, node, x, lo, hi, bool(inplace) or trailing_underscore(node))


def relu6_function(b, node):
    """F.relu6(x, inplace=False)"""
    x, inplace = b.call_args(node, "input", ("inplace", False))
    clamp(b, node, x, 0.0, 6.0, bool(inplace))


def clamp_call(b, node):
    """torch.clamp(x, min=None, max=None), torch.clip, x.clamp, x.clip, x.clamp_, x.clip_"""
    x, lo, hi = b.call_args(node, "input", ("min", None), ("max", None))
    clamp(b, node, x, lo, hi, trailing_underscore(node))


# ---- gelu, leaky_relu, elu: one attribute each ----------------------------------------

def gelu(b, node, x, approximate):
    if approximate not in ("none", "tanh"):
        b.fail(node, f"approximate must be 'none' or 'tanh', got {approximate!r}")
    activation(b, node, x, "gelu", {"approximate": approximate})


def gelu_module(b, node):
    """nn.GELU(approximate='none'|'tanh')"""
    gelu(b, node, b.only_arg(node), b.module(node).approximate)


def gelu_function(b, node):
    """F.gelu(x, approximate='none'|'tanh')"""
    x, approximate = b.call_args(node, "input", ("approximate", "none"))
    gelu(b, node, x, approximate)


def leaky_relu_module(b, node):
    """nn.LeakyReLU(negative_slope=0.01, inplace=False)"""
    m = b.module(node)
    slope = real(b, node, "negative_slope", m.negative_slope)
    activation(b, node, b.only_arg(node), "leaky_relu", {"negative_slope": slope}, m.inplace)


def leaky_relu_function(b, node):
    """F.leaky_relu(x, negative_slope=0.01, inplace=False), F.leaky_relu_(x, ...)"""
    x, slope, inplace = b.call_args(node, "input", ("negative_slope", 0.01), ("inplace", False))
    activation(b, node, x, "leaky_relu", {"negative_slope": real(b, node, "negative_slope", slope)},
               bool(inplace) or trailing_underscore(node))


def elu_module(b, node):
    """nn.ELU(alpha=1.0, inplace=False)"""
    m = b.module(node)
    activation(b, node, b.only_arg(node), "elu", {"alpha": real(b, node, "alpha", m.alpha)},
               m.inplace)


def elu_function(b, node):
    """F.elu(x, alpha=1.0, inplace=False), F.elu_(x, alpha=1.0)"""
    x, alpha, inplace = b.call_args(node, "input", ("alpha", 1.0), ("inplace", False))
    activation(b, node, x, "elu", {"alpha": real(b, node, "alpha", alpha)},
               bool(inplace) or trailing_underscore(node))
