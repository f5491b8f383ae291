"""From a PyTorch module to a traced FX GraphModule whose nodes carry their shapes
(ShapeProp's tensor_meta), checked to compute what the module computes."""

import dis
import inspect
import os
import traceback

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from .errors import ExportError


def first_line(e):
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def first_sentence(e):
    return first_line(e).split(". ")[0]


class Proxy(torch.fx.Proxy):
    """torch.fx's Proxy, with unpacking (`n, c, h, w = x.size()`) fixed for Python 3.11.

    torch 1.13's Proxy.__iter__ finds the instruction that iterates as
    `dis.get_instructions(code)[frame.f_lasti // 2]`. Python 3.11 puts inline CACHE
    entries in the bytecode, which get_instructions leaves out, so that index points
    at another instruction (or past the end: IndexError): the UNPACK_SEQUENCE is
    missed and the trace fails with "Proxy object cannot be iterated". This looks
    the instruction up by its offset instead, which is right on every version.
    Only unpacking is handled, as in torch; any other iteration still fails."""

    def __iter__(self):
        caller = inspect.currentframe().f_back
        inst = next((i for i in dis.get_instructions(caller.f_code) if i.offset == caller.f_lasti),
                    None)
        if inst is not None and inst.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(inst.argval))
        return self.tracer.iter(self)

    def __getattr__(self, name):
        return Attribute(self, name)


class Attribute(torch.fx.proxy.Attribute, Proxy):
    """`x.shape`, `x.size`: torch's Attribute, iterated as Proxy above."""


class Tracer(torch.fx.Tracer):
    """torch.fx's Tracer, making the Proxy above."""

    def proxy(self, node):
        return Proxy(node, self)


def symbolic_trace(module):
    """torch.fx.symbolic_trace(module), with the Tracer above."""
    tracer = Tracer()
    graph = tracer.trace(module)
    return torch.fx.GraphModule(tracer.root, graph, type(module).__name__)


# Why a trace fails, for the messages FX gives: (text in FX's message, the cause).
TRACE_FAILURES = [
    ("cannot be iterated",
     "the model iterates over a traced tensor (a for loop, *args, or unpacking a "
     "tensor rather than its shape), which torch.fx cannot record"),
    ("cannot be used as inputs to control flow",
     "Python control flow (if, while, bool(), assert) depends on a tensor's values, "
     "which torch.fx cannot record"),
    ("'len' is not supported",
     "the model calls len() on a traced tensor; use x.size(0) or x.shape[0]"),
    ("'Proxy' object cannot be interpreted as an integer",
     "a traced value is used where Python needs a plain number (range(), a list "
     "length, a Python int() call)"),
]


def trace_failure(e):
    """The ExportError for a failed trace: where in the model's code, what FX said, why."""
    where = ""
    torch_dir = os.path.dirname(torch.__file__)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith(torch_dir) and not f.filename.startswith(os.path.dirname(__file__))]
    if frames:
        f = frames[-1]
        code = f": {f.line!r}" if f.line else ""
        where = f" at {f.filename}:{f.lineno} ({f.name}{code})"
    cause = next((c for text, c in TRACE_FAILURES if text in str(e)), None)
    because = f"; cause: {cause}" if cause else ""
    return ExportError(f"torch.fx.symbolic_trace failed{where}: {type(e).__name__}: "
                       f"{first_sentence(e)}{because}")


def trace(module, example_input):
    """The module traced with torch.fx, shapes propagated on `example_input`."""
    try:
        gm = symbolic_trace(module)
    except Exception as e:  # FX raises many types (TraceError, TypeError, ...)
        raise trace_failure(e) from e
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
