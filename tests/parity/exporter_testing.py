"""What the exporter's tests share: export.py imported by path (as users do), a module
made of a function for one-off graphs, and an export checked against PyTorch through
graph_reference.py (no engine). Import after torch_or_skip.require_torch()."""

import importlib.util
import os
import tempfile
import unittest

import numpy as np
import torch
import torch.nn as nn

from graph_reference import run_model

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "loaders", "torch", "export.py")

_spec = importlib.util.spec_from_file_location("kiln_export", EXPORT)
kx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kx)


class Lambda(nn.Module):
    """A module whose forward is `fn(self, x)`, for one-off test graphs."""

    def __init__(self, fn, **children):
        super().__init__()
        self.fn = fn
        for name, child in children.items():
            setattr(self, name, child)

    def forward(self, x):
        return self.fn(self, x)


def export(module, shape):
    with tempfile.TemporaryDirectory() as d:
        return kx.export(module, torch.randn(*shape), d)


def ops(graph):
    return [n["op"] for n in graph["nodes"]]


def export_and_run(module, shape, batch=3, seed=0):
    """Exports `module` on an input of `shape`, then runs graph.json with graph_reference
    on an input of another batch size; returns (graph, max |kiln - torch| / max |torch|)."""
    g = torch.Generator().manual_seed(seed)
    module.eval()
    with tempfile.TemporaryDirectory() as d:
        graph = kx.export(module, torch.randn(*shape, generator=g), d)
        x = torch.randn(batch, *shape[1:], generator=g)
        with torch.no_grad():
            ref = module(x.clone()).double().numpy()  # an in-place op may change its input
        got = run_model(d, x.numpy())[0]
    if got.shape != ref.shape:
        raise AssertionError(f"output shape {list(got.shape)}, PyTorch {list(ref.shape)}")
    return graph, float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-30))


def export_error(module, shape):
    """The message of the ExportError the export of `module` raises."""
    try:
        export(module, shape)
    except kx.ExportError as e:
        return str(e)
    raise AssertionError("the export did not fail")


class ExportTestCase(unittest.TestCase):
    def refuses(self, module, shape, *fragments):
        """The export fails with one line that holds each fragment."""
        message = export_error(module, shape)
        for f in fragments:
            self.assertIn(f, message)
        self.assertNotIn("\n", message)
