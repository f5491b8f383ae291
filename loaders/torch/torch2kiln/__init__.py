"""Export a PyTorch module to a Kiln model directory (format "kiln" v1, docs/FORMAT.md).

The modules, in the order an export runs through them:

    trace.py      torch.fx.symbolic_trace + shapes, checked against the module itself
    builder.py    the walk over the FX graph: one handler per FX node, from op_table.py
    op_table.py   which PyTorch module / function / method maps to which handler
    ops/          the handlers, by family (layers, pooling, activations, arithmetic,
                  shapes, reshapes, slices)
    aliases.py    which nodes share storage; when an in-place op may become a pure one
    writer.py     graph.json and weights/*.npy, replacing the directory whole
    cli.py        the command line of loaders/torch/export.py

loaders/torch/export.py is the entry point (a script, or a file imported by path).
"""

import torch
import torch.nn as nn

from .builder import Builder
from .errors import ExportError
from .trace import trace
from .writer import model_graph, refuse_foreign, write_model


def export(module, example_input, out_dir, force=False, extra_arrays=None):
    """Traces `module` (put in eval mode) with torch.fx and writes a Kiln model directory:
    out_dir/graph.json and out_dir/weights/<param name>.npy, plus out_dir/NAME for each
    NAME: array of `extra_arrays`. `example_input` fixes the dtype (float32) and the
    non-batch dims; the batch dim is written as "N". Returns the graph as a dict. Raises
    ExportError for anything Kiln cannot represent.

    out_dir must be missing, empty or a Kiln model directory, unless `force`; it is
    replaced whole, and left as it was if the export fails."""
    if not isinstance(module, nn.Module):
        raise ExportError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.dtype != torch.float32:
        got = example_input.dtype if isinstance(example_input, torch.Tensor) else type(example_input)
        raise ExportError(f"example input: expected a float32 tensor, got {got}")
    if example_input.dim() < 2:
        raise ExportError(f"example input: expected a batch dim and at least one more, "
                          f"got shape {list(example_input.shape)}")
    if not force:
        refuse_foreign(out_dir)  # before the trace, which may take long
    module.eval()
    gm = trace(module, example_input)

    b = Builder(gm)
    b.run(example_input)
    graph = model_graph(b.inputs, b.outputs, b.params, b.nodes)
    write_model(out_dir, graph, b.params, extra_arrays)
    return graph
