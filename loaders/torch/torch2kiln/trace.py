"""From a PyTorch module to a traced FX GraphModule whose nodes carry their shapes
(ShapeProp's tensor_meta), checked to compute what the module computes."""

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from .errors import ExportError


def first_line(e):
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def trace(module, example_input):
    """torch.fx.symbolic_trace(module), shapes propagated on `example_input`."""
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as e:  # FX raises many types (TraceError, TypeError, ...)
        raise ExportError(f"torch.fx.symbolic_trace failed: {first_line(e)}") from e
    with torch.no_grad():
        try:
            module_out = module(example_input.clone())
            traced_out = ShapeProp(gm).propagate(example_input.clone())
        except Exception as e:
            raise ExportError(f"running the module on the example input of shape "
                              f"{list(example_input.shape)} failed: {first_line(e)}") from e
    check_trace_matches(traced_out, module_out)
    return gm


def check_trace_matches(traced_out, module_out):
    """FX records `x += y` as an out-of-place add, which changes the result when x is also
    read elsewhere; the traced module must compute what the module computes."""
    a = traced_out if isinstance(traced_out, (tuple, list)) else [traced_out]
    b = module_out if isinstance(module_out, (tuple, list)) else [module_out]
    same = len(a) == len(b) and all(
        isinstance(u, torch.Tensor) and isinstance(v, torch.Tensor) and u.shape == v.shape
        and torch.allclose(u, v, rtol=1e-5, atol=1e-6 * max(1.0, float(v.abs().max())))
        for u, v in zip(a, b))
    if not same:
        raise ExportError("the FX trace computes something other than the module "
                          "(in-place ops on shared tensors, e.g. `x += y` while x is used "
                          "elsewhere?); Kiln would inherit the difference")
