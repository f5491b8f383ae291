#!/usr/bin/env python3
"""Export a PyTorch module to a Kiln model directory (format "kiln" v1, docs/FORMAT.md).

    python3 loaders/torch/export.py --torchvision resnet18 --out model/ [--seed S]
            [--input-shape N,C,H,W] [--randomize-bn] [--reference]
    python3 loaders/torch/export.py --module my_models.py:MyNet --out model/ ...

or, from Python (import this file by path; it has no package-relative imports):

    export(module, example_input, "model/")

The module is put in eval mode and traced with torch.fx.symbolic_trace, so convs
and BatchNorms hidden in nn.Sequential or wrapped in custom modules are found.
Every FX node is mapped to a Kiln op or refused with an error naming the node,
its op and its target: never a silently wrong graph. See docs/EXPORT.md.
"""

import argparse
import builtins
import importlib.util
import json
import math
import operator
import os
import sys

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

FORMAT_VERSION = 1

# Every op this exporter can write into graph.json; emit() refuses any other.
# tests/parity/exporter_ops_test.cpp reads this tuple (one quoted name per
# line) and checks each op is registered in the engine.
EMITTED_OPS = (
    "add",
    "avg_pool2d",
    "batchnorm",
    "conv2d",
    "flatten",
    "global_avg_pool2d",
    "linear",
    "max_pool2d",
    "relu",
)

# Modules that are the identity at inference: their users read their input.
IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)


class ExportError(Exception):
    """Anything the exporter refuses; the message is one line."""


def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(e) for e in v]


def _describe(node):
    """'layer1.0.conv1' (call_module Conv2d) and the like, for error messages."""
    if node.op == "call_module":
        return f"call_module '{node.target}'"
    if node.op == "call_function":
        try:
            return f"call_function {torch.fx.node._get_qualified_name(node.target)}"
        except Exception:  # a private helper of torch.fx; fall back to the plain name
            return f"call_function {getattr(node.target, '__name__', node.target)!r}"
    if node.op == "call_method":
        return f"call_method Tensor.{node.target}"
    return f"{node.op} {node.target!r}"


class _Exporter:
    def __init__(self, gm):
        self.gm = gm
        self.fx_nodes = list(gm.graph.nodes)
        self.order = {n: i for i, n in enumerate(self.fx_nodes)}
        self.nodes = []        # Kiln nodes: dicts with name, op, inputs, attrs
        self.params = {}       # param name -> tensor, in first-use order
        self.value = {}        # FX node -> Kiln value name (aliases map to their source)
        self.alias_of = {}     # FX node -> the FX node whose storage it shares
        self.shape_info = {}   # FX node -> (source FX node, dim or None): x.size(d), x.shape
        self.taken = set()     # every name used so far (inputs, nodes, params)
        self.inputs = []
        self.outputs = []

    # ---- errors and small helpers --------------------------------------------------

    def fail(self, node, what):
        raise ExportError(f"FX node '{node.name}' ({_describe(node)}): {what}")

    def unique(self, base):
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def shape(self, node):
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            self.fail(node, "expected a tensor result, got none")
        return tuple(int(d) for d in meta.shape)

    def tensor(self, node, arg, what="input"):
        """The Kiln value name of `arg`, which must be a tensor this exporter produced."""
        if not isinstance(arg, torch.fx.Node) or arg not in self.value:
            self.fail(node, f"{what} must be a tensor computed by the graph, got {arg!r}")
        return self.value[arg]

    def module(self, node):
        return self.gm.get_submodule(node.target)

    def only_arg(self, node):
        if len(node.args) != 1 or node.kwargs:
            self.fail(node, f"expected one tensor argument, got args {node.args} kwargs {node.kwargs}")
        return node.args[0]

    def arg(self, node, index, key, default):
        """Argument `index` (positional) or `key` (keyword) of a call, else `default`."""
        if len(node.args) > index:
            return node.args[index]
        return node.kwargs.get(key, default)

    def check_rank(self, node, x, ranks, what):
        r = len(self.shape(x))
        if r not in ranks:
            self.fail(node, f"{what}: expected input of rank {' or '.join(map(str, ranks))}, "
                            f"got shape {list(self.shape(x))}")

    def param(self, node, attr):
        """Adds the module parameter/buffer `<target>.<attr>`; returns its name."""
        name = f"{node.target}.{attr}"
        if name not in self.params:
            t = getattr(self.module(node), attr)
            if t.dtype != torch.float32:
                self.fail(node, f"parameter '{name}': expected float32, got {t.dtype}")
            if name in self.taken:
                self.fail(node, f"parameter name '{name}' is already used by a node or input")
            self.taken.add(name)
            self.params[name] = t
        return name

    def emit(self, node, op, inputs, attrs=None):
        if op not in EMITTED_OPS:
            raise AssertionError(f"exporter bug: op '{op}' missing from EMITTED_OPS")
        base = node.target if node.op == "call_module" else node.name
        name = self.unique(base)
        self.nodes.append({"name": name, "op": op, "inputs": inputs, "attrs": attrs or {}})
        self.value[node] = name

    def alias(self, node, src):
        """`node` is `src` at inference (Identity, Dropout, a no-op view, an in-place op)."""
        self.tensor(node, src)
        self.value[node] = self.value[src]
        self.alias_of[node] = src

    # ---- in-place ops --------------------------------------------------------------

    def storage_root(self, node):
        while node in self.alias_of:
            node = self.alias_of[node]
        return node

    def derived_from(self, node, ancestor):
        while node in self.alias_of:
            if node is ancestor:
                return True
            node = self.alias_of[node]
        return node is ancestor

    def check_inplace(self, node, mutated):
        """Kiln's graph is pure: an in-place op is exported as a new value, which is only
        right if nothing reads the mutated storage (through any alias) after the op."""
        root = self.storage_root(mutated)
        for other in self.fx_nodes:
            if other is node or self.storage_root(other) is not root:
                continue
            if other in self.alias_of and self.derived_from(other, node):
                continue  # reads the op's result: meant to see the new value
            for user in other.users:
                if user is not node and self.order[user] > self.order[node]:
                    self.fail(node, f"modifies '{mutated.name}' in place, and FX node "
                                    f"'{user.name}' reads it afterwards; Kiln cannot export "
                                    "that (use the out-of-place op)")

    # ---- shape arithmetic: x.size(0), x.shape[0], view(x.size(0), -1) -------------

    def is_batch_size(self, arg):
        info = self.shape_info.get(arg) if isinstance(arg, torch.fx.Node) else None
        return info is not None and info[1] is not None and info[1] % len(self.shape(info[0])) == 0

    def is_fixed_size(self, arg):
        """A literal int or x.size(d) for a non-batch d: fixed by the example input."""
        if isinstance(arg, int):
            return True
        info = self.shape_info.get(arg) if isinstance(arg, torch.fx.Node) else None
        return info is not None and info[1] is not None and not self.is_batch_size(arg)

    def shape_node(self, node, src, dim):
        if not isinstance(src, torch.fx.Node) or src not in self.value:
            self.fail(node, f"expected the shape of a tensor computed by the graph, got {src!r}")
        if dim is not None and not isinstance(dim, int):
            self.fail(node, f"expected an integer dim, got {dim!r}")
        self.shape_info[node] = (src, dim)

    def flatten(self, node, x, start_dim, end_dim=-1):
        """Emits flatten(start_dim) after checking it keeps the batch dim and ends at the last dim."""
        self.tensor(node, x)
        rank = len(self.shape(x))
        if not isinstance(start_dim, int) or not isinstance(end_dim, int):
            self.fail(node, f"expected integer start_dim/end_dim, got {start_dim!r}, {end_dim!r}")
        start, end = start_dim % rank, end_dim % rank
        if end != rank - 1:
            self.fail(node, f"flatten must end at the last dim, got end_dim={end_dim} for rank {rank}")
        if start == 0:
            self.fail(node, "flatten from dim 0 would merge the batch dim; only start_dim >= 1 is supported")
        if start == rank - 1:
            self.alias(node, x)  # flattening one dim is a no-op
        else:
            self.emit(node, "flatten", [self.value[x]], {"start_dim": start})
            self.alias_of[node] = x  # a view: it shares x's storage (for check_inplace)

    def view_as_flatten(self, node, x, dims):
        """x.view(...) / x.reshape(...) is supported where it is a flatten from some dim >= 1."""
        self.tensor(node, x)
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = list(dims[0])
        if not dims:
            self.fail(node, "expected a target shape")
        d0, rest = dims[0], dims[1:]
        if not (self.is_batch_size(d0) or (d0 == -1 and all(self.is_fixed_size(d) for d in rest))):
            self.fail(node, f"dim 0 of the new shape must be x.size(0) or -1 (the batch stays free), "
                            f"got {d0!r}")
        if not all(d == -1 or self.is_fixed_size(d) for d in rest):
            self.fail(node, f"dims 1.. of the new shape must be integers or x.size(d), got {rest!r}")
        in_shape, out_shape = self.shape(x), self.shape(node)
        s = len(out_shape) - 1
        is_flatten = (1 <= s < len(in_shape) and out_shape[0] == in_shape[0]
                      and out_shape[1:s] == in_shape[1:s] and out_shape[s] == math.prod(in_shape[s:]))
        if not is_flatten:
            self.fail(node, f"only a flatten from dim >= 1 is supported, got shape {list(in_shape)} "
                            f"-> {list(out_shape)}")
        self.flatten(node, x, s)

    # ---- call_module ---------------------------------------------------------------

    def call_module(self, node):
        m = self.module(node)
        kind = type(m)
        if kind in IDENTITY_MODULES:
            return self.alias(node, self.only_arg(node))
        handler = {
            nn.Conv2d: self.conv2d,
            nn.BatchNorm2d: self.batchnorm,
            nn.BatchNorm1d: self.batchnorm,
            nn.ReLU: self.relu_module,
            nn.MaxPool2d: self.max_pool2d,
            nn.AvgPool2d: self.avg_pool2d,
            nn.AdaptiveAvgPool2d: self.adaptive_avg_pool2d,
            nn.Linear: self.linear,
            nn.Flatten: lambda n, m: self.flatten(n, self.only_arg(n), m.start_dim, m.end_dim),
        }.get(kind)
        if handler is None:
            self.fail(node, f"module type {kind.__module__}.{kind.__name__} is not supported")
        handler(node, m)

    def conv2d(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        self.check_rank(node, x, [4], "Conv2d")
        if m.padding_mode != "zeros":
            self.fail(node, f"padding_mode '{m.padding_mode}' is not supported, only 'zeros'")
        if m.padding == "valid":
            padding = [0, 0]
        elif m.padding == "same":
            total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
            if any(t % 2 for t in total):
                self.fail(node, f"padding='same' with kernel {list(m.kernel_size)} and dilation "
                                f"{list(m.dilation)} pads unevenly; Kiln's conv2d pads symmetrically")
            padding = [t // 2 for t in total]
        else:
            padding = _pair(m.padding)
        inputs = [self.value[x], self.param(node, "weight")]
        if m.bias is not None:
            inputs.append(self.param(node, "bias"))
        self.emit(node, "conv2d", inputs, {"stride": _pair(m.stride), "padding": padding,
                                           "dilation": _pair(m.dilation), "groups": int(m.groups)})

    def batchnorm(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        if isinstance(m, nn.BatchNorm1d):
            self.check_rank(node, x, [2], "BatchNorm1d (Kiln's batchnorm takes [N, C] here)")
        else:
            self.check_rank(node, x, [4], "BatchNorm2d")
        if not m.track_running_stats or m.running_mean is None or m.running_var is None:
            self.fail(node, "track_running_stats=False normalises with batch statistics; "
                            "only BatchNorm with running statistics is supported")
        if m.training:
            self.fail(node, "BatchNorm in training mode; export puts the module in eval mode")
        inputs = [self.value[x], self.param(node, "running_mean"), self.param(node, "running_var")]
        if m.affine:
            inputs += [self.param(node, "weight"), self.param(node, "bias")]
        self.emit(node, "batchnorm", inputs, {"eps": float(m.eps)})

    def relu_module(self, node, m):
        x = self.only_arg(node)
        self.relu(node, x, m.inplace)

    def relu(self, node, x, inplace):
        self.tensor(node, x)
        if inplace:
            self.check_inplace(node, x)
            self.alias_of[node] = x
        self.emit(node, "relu", [self.value[x]])

    def max_pool2d(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        self.check_rank(node, x, [4], "MaxPool2d")
        if m.return_indices:
            self.fail(node, "return_indices=True is not supported")
        kernel = _pair(m.kernel_size)
        stride = _pair(m.stride) if m.stride is not None else kernel
        self.emit(node, "max_pool2d", [self.value[x]], {
            "kernel": kernel, "stride": stride, "padding": _pair(m.padding),
            "dilation": _pair(m.dilation), "ceil_mode": int(bool(m.ceil_mode))})

    def avg_pool2d(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        self.check_rank(node, x, [4], "AvgPool2d")
        if m.divisor_override is not None:
            self.fail(node, f"divisor_override={m.divisor_override} is not supported")
        kernel = _pair(m.kernel_size)
        stride = _pair(m.stride) if m.stride is not None else kernel
        self.emit(node, "avg_pool2d", [self.value[x]], {
            "kernel": kernel, "stride": stride, "padding": _pair(m.padding),
            "ceil_mode": int(bool(m.ceil_mode)), "count_include_pad": int(bool(m.count_include_pad))})

    def adaptive_avg_pool2d(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        self.check_rank(node, x, [4], "AdaptiveAvgPool2d")
        size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
        in_hw = self.shape(x)[2:]
        size = [in_hw[i] if s is None else s for i, s in enumerate(size)]
        if size != [1, 1]:
            self.fail(node, f"output_size {m.output_size!r} is not supported, only (1, 1)")
        self.emit(node, "global_avg_pool2d", [self.value[x]])

    def linear(self, node, m):
        x = self.only_arg(node)
        self.tensor(node, x)
        self.check_rank(node, x, [2], "Linear (Kiln's linear takes [N, IN])")
        inputs = [self.value[x], self.param(node, "weight")]
        if m.bias is not None:
            inputs.append(self.param(node, "bias"))
        self.emit(node, "linear", inputs)

    # ---- call_function / call_method ----------------------------------------------

    def add(self, node, a, b, inplace=False, alpha=1):
        if alpha != 1:
            self.fail(node, f"alpha={alpha!r} is not supported")
        va, vb = self.tensor(node, a, "first operand"), self.tensor(node, b, "second operand")
        if self.shape(a) != self.shape(b):
            self.fail(node, f"add needs two tensors of the same shape (no broadcasting), got "
                            f"{list(self.shape(a))} and {list(self.shape(b))}")
        if inplace:
            self.check_inplace(node, a)
            self.alias_of[node] = a
        self.emit(node, "add", [va, vb])

    def call_function(self, node):
        f, args, kw = node.target, node.args, node.kwargs
        if f in (operator.add, operator.iadd) and len(args) == 2 and not kw:
            return self.add(node, args[0], args[1], inplace=(f is operator.iadd))
        if f is torch.add and len(args) == 2 and set(kw) <= {"alpha"}:
            return self.add(node, args[0], args[1], alpha=kw.get("alpha", 1))
        if f is torch.flatten and set(kw) <= {"start_dim", "end_dim"}:
            return self.flatten(node, args[0], self.arg(node, 1, "start_dim", 0),
                                self.arg(node, 2, "end_dim", -1))
        if f is torch.reshape and len(args) == 2 and not kw:
            return self.view_as_flatten(node, args[0], [args[1]])
        if f in (F.relu, torch.relu, torch.relu_) and set(kw) <= {"inplace"}:
            inplace = f is torch.relu_ or bool(self.arg(node, 1, "inplace", False))
            return self.relu(node, args[0], inplace)
        if f is builtins.getattr and len(args) == 2 and args[1] == "shape":
            return self.shape_node(node, args[0], None)
        if f is operator.getitem and len(args) == 2 and args[0] in self.shape_info:
            src, dim = self.shape_info[args[0]]
            if dim is None:
                return self.shape_node(node, src, args[1])
        self.fail(node, f"not supported (args {args}, kwargs {dict(kw)})")

    def call_method(self, node):
        name, args, kw = node.target, node.args, node.kwargs
        x = args[0]
        if name == "size" and len(args) <= 2 and set(kw) <= {"dim"}:
            return self.shape_node(node, x, self.arg(node, 1, "dim", None))
        if name in ("view", "reshape") and not kw:
            return self.view_as_flatten(node, x, list(args[1:]))
        if name == "flatten" and set(kw) <= {"start_dim", "end_dim"}:
            return self.flatten(node, x, self.arg(node, 1, "start_dim", 0),
                                self.arg(node, 2, "end_dim", -1))
        if name in ("relu", "relu_") and len(args) == 1 and not kw:
            return self.relu(node, x, inplace=(name == "relu_"))
        if name in ("add", "add_") and len(args) == 2 and set(kw) <= {"alpha"}:
            return self.add(node, x, args[1], inplace=(name == "add_"), alpha=kw.get("alpha", 1))
        if name == "contiguous" and len(args) == 1 and not kw:
            return self.alias(node, x)
        self.fail(node, f"not supported (args {args}, kwargs {dict(kw)})")

    # ---- the walk ------------------------------------------------------------------

    def run(self, example_input):
        for node in self.fx_nodes:
            if node.op == "placeholder":
                if self.inputs:
                    self.fail(node, "a second graph input; Kiln's exporter supports one input")
                shape = ["N"] + list(example_input.shape[1:])
                self.inputs.append({"name": self.unique(node.name), "dtype": "float32",
                                    "shape": shape})
                self.value[node] = node.name
            elif node.op == "call_module":
                self.call_module(node)
            elif node.op == "call_function":
                self.call_function(node)
            elif node.op == "call_method":
                self.call_method(node)
            elif node.op == "output":
                self.output(node)
            else:  # get_attr: a tensor of the module used directly in forward()
                self.fail(node, "not supported (only module calls, functions and methods)")
        self.drop_dead_nodes()

    def output(self, node):
        result = node.args[0]
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        for r in results:
            name = self.tensor(node, r, "graph output")
            if name == self.inputs[0]["name"]:
                self.fail(node, "a graph output is the graph input itself; nothing to compute")
            if name in self.outputs:
                self.fail(node, f"value '{name}' is returned twice")
            self.outputs.append(name)

    def drop_dead_nodes(self):
        live = set(self.outputs)
        for n in reversed(self.nodes):
            if n["name"] in live:
                live.update(n["inputs"])
        self.nodes = [n for n in self.nodes if n["name"] in live]
        self.params = {k: v for k, v in self.params.items() if k in live}


def _write_graph_json(path, graph):
    """graph.json with one line per input, output, param and node: readable and diffable."""
    lines = ["{", f'"format": "kiln", "version": {FORMAT_VERSION},']
    keys = ["inputs", "outputs", "params", "nodes"]
    for i, key in enumerate(keys):
        items = [json.dumps(item) for item in graph[key]]
        body = ",\n  ".join(items)
        end = "," if i + 1 < len(keys) else ""
        lines.append(f'"{key}": [\n  {body}\n]{end}' if items else f'"{key}": []{end}')
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def export(module, example_input, out_dir):
    """Traces `module` (put in eval mode) with torch.fx and writes a Kiln model directory:
    out_dir/graph.json and out_dir/weights/<param name>.npy. `example_input` fixes the dtype
    (float32) and the non-batch dims; the batch dim is written as "N". Returns the graph
    as a dict. Raises ExportError for anything Kiln cannot represent."""
    if not isinstance(module, nn.Module):
        raise ExportError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.dtype != torch.float32:
        got = example_input.dtype if isinstance(example_input, torch.Tensor) else type(example_input)
        raise ExportError(f"example input: expected a float32 tensor, got {got}")
    if example_input.dim() < 2:
        raise ExportError(f"example input: expected a batch dim and at least one more, "
                          f"got shape {list(example_input.shape)}")
    module.eval()
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as e:  # FX raises many types (TraceError, TypeError, ...)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ExportError(f"torch.fx.symbolic_trace failed: {msg}") from e
    with torch.no_grad():
        try:
            module_out = module(example_input.clone())
            traced_out = ShapeProp(gm).propagate(example_input.clone())
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ExportError(f"running the module on the example input of shape "
                              f"{list(example_input.shape)} failed: {msg}") from e
    _check_trace_matches(traced_out, module_out)

    ex = _Exporter(gm)
    ex.run(example_input)
    params = []
    for name, t in ex.params.items():
        params.append({"name": name, "dtype": "float32", "shape": list(t.shape),
                       "file": f"weights/{name}.npy"})
    graph = {"format": "kiln", "version": FORMAT_VERSION, "inputs": ex.inputs,
             "outputs": ex.outputs, "params": params, "nodes": ex.nodes}

    os.makedirs(os.path.join(out_dir, "weights"), exist_ok=True)
    for p in params:
        data = ex.params[p["name"]].detach().cpu().contiguous().numpy()
        np.save(os.path.join(out_dir, p["file"]), data)
    _write_graph_json(os.path.join(out_dir, "graph.json"), graph)
    return graph


def _check_trace_matches(traced_out, module_out):
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


# ---- the CLI ---------------------------------------------------------------------------

def build_torchvision(name, seed):
    """torchvision.models.<name>(weights=None) with its random init seeded: no download."""
    import torchvision
    builder = getattr(torchvision.models, name, None)
    if name.startswith("_") or not callable(builder) or isinstance(builder, type):
        raise ExportError(f"--torchvision: unknown model '{name}' "
                          "(e.g. resnet18, resnet34, resnet50, vgg11, mobilenet_v2)")
    torch.manual_seed(seed)
    return builder(weights=None)


def build_from_file(spec, seed):
    """FILE.py:CLASS -> (CLASS(), CLASS.EXAMPLE_INPUT_SHAPE or None), seeded."""
    path, sep, cls_name = spec.rpartition(":")
    if not sep or not path or not cls_name:
        raise ExportError(f"--module: expected FILE.py:CLASS, got '{spec}'")
    if not os.path.isfile(path):
        raise ExportError(f"--module: no such file '{path}'")
    mod_spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path)
    py_module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(py_module)
    except Exception as e:
        raise ExportError(f"--module: importing '{path}' failed: {type(e).__name__}: {e}") from e
    cls = getattr(py_module, cls_name, None)
    if cls is None:
        raise ExportError(f"--module: '{path}' has no class '{cls_name}'")
    torch.manual_seed(seed)
    try:
        module = cls()
    except Exception as e:
        raise ExportError(f"--module: {cls_name}() failed: {type(e).__name__}: {e}") from e
    if not isinstance(module, nn.Module):
        raise ExportError(f"--module: {cls_name}() is not a torch.nn.Module")
    return module, getattr(cls, "EXAMPLE_INPUT_SHAPE", None)


def randomize_bn(module, seed):
    """Sets every BatchNorm's statistics and affine params to seeded random values away
    from the 0/1/1/0 defaults, under which a wrong fold can look right."""
    g = torch.Generator().manual_seed(seed + 1000)
    for m in module.modules():
        if not isinstance(m, nn.modules.batchnorm._BatchNorm):
            continue
        c = m.num_features

        def uniform(lo, hi):
            return lo + (hi - lo) * torch.rand(c, generator=g)

        with torch.no_grad():
            if m.running_mean is not None:
                m.running_mean.copy_(uniform(-0.5, 0.5))
                m.running_var.copy_(uniform(0.5, 2.0))
            if m.weight is not None:
                sign = torch.where(torch.rand(c, generator=g) < 0.2, -1.0, 1.0)
                m.weight.copy_(sign * uniform(0.5, 1.5))
                m.bias.copy_(uniform(-0.5, 0.5))


def reference_input(shape, seed):
    g = torch.Generator().manual_seed(seed + 2000)
    return torch.randn(*shape, generator=g)


def _parse_shape(text):
    try:
        shape = [int(d) for d in text.split(",")]
    except ValueError:
        raise ExportError(f"--input-shape: expected comma-separated integers like 1,3,224,224, "
                          f"got '{text}'") from None
    if len(shape) < 2 or any(d <= 0 for d in shape):
        raise ExportError(f"--input-shape: expected at least 2 positive dims, got '{text}'")
    return shape


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="export.py",
        description="Export a PyTorch module to a Kiln model directory (graph.json + "
                    "weights/*.npy). See docs/EXPORT.md.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--torchvision", metavar="NAME",
                     help="a torchvision.models builder, random init (no weight download)")
    src.add_argument("--module", metavar="FILE.py:CLASS",
                     help="a module class in a Python file, built as CLASS()")
    p.add_argument("--out", required=True, metavar="DIR", help="the model directory to write")
    p.add_argument("--seed", type=int, default=0, help="seed for init, BN values, input (default 0)")
    p.add_argument("--input-shape", metavar="N,C,H,W",
                   help="example input shape (default: CLASS.EXAMPLE_INPUT_SHAPE, or "
                        "1,3,224,224 for --torchvision); the batch dim stays free")
    p.add_argument("--randomize-bn", action="store_true",
                   help="set every BatchNorm's running_mean/var, weight, bias to seeded random values")
    p.add_argument("--reference", action="store_true",
                   help="also write DIR/input.npy (seeded random input) and DIR/output.npy "
                        "(PyTorch's eval output for it)")
    args = p.parse_args(argv)
    try:
        if args.torchvision:
            module, default_shape = build_torchvision(args.torchvision, args.seed), [1, 3, 224, 224]
        else:
            module, default_shape = build_from_file(args.module, args.seed)
        if args.input_shape:
            shape = _parse_shape(args.input_shape)
        elif default_shape is not None:
            shape = list(default_shape)
        else:
            raise ExportError("--input-shape is required (the class has no EXAMPLE_INPUT_SHAPE)")
        if args.randomize_bn:
            randomize_bn(module, args.seed)
        x = reference_input(shape, args.seed)
        graph = export(module, x, args.out)
        if args.reference:
            with torch.no_grad():
                y = module(x.clone())
            if not isinstance(y, torch.Tensor):
                raise ExportError("--reference: the module returns more than one tensor")
            np.save(os.path.join(args.out, "input.npy"), x.numpy())
            np.save(os.path.join(args.out, "output.npy"), y.numpy())
    except (ExportError, OSError) as e:
        print(f"export.py: error: {e}", file=sys.stderr)
        return 1
    print(f"export.py: wrote {args.out}: {len(graph['nodes'])} nodes, {len(graph['params'])} params"
          + (", input.npy, output.npy" if args.reference else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
