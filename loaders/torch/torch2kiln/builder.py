"""The walk over a traced FX graph that builds Kiln's graph: one Kiln node (or an
alias) per FX node, each made by its handler in op_table.py. The helpers here are
what handlers use: argument and shape checks, parameters, emit and alias."""

import torch
import torch.fx

from .aliases import Aliases
from .errors import ExportError, describe
from .op_table import EMITTED_OPS, FUNCTION_OPS, METHOD_OPS, MODULE_OPS


class Builder:
    def __init__(self, gm):
        self.gm = gm
        self.fx_nodes = list(gm.graph.nodes)
        self.aliases = Aliases(self.fx_nodes)
        self.nodes = []        # Kiln nodes: dicts with name, op, inputs, attrs
        self.params = {}       # param name -> tensor, in first-use order
        self.value = {}        # FX node -> Kiln value name (aliases map to their source)
        self.shape_info = {}   # FX node -> (source FX node, dim or None): x.size(d), x.shape
        self.taken = set()     # every name used so far (inputs, nodes, params)
        self.inputs = []
        self.outputs = []

    # ---- errors and small helpers --------------------------------------------------

    def fail(self, node, what):
        raise ExportError(f"FX node '{node.name}' ({describe(node)}): {what}")

    def unsupported(self, node):
        """A known function or method called with arguments no handler accepts."""
        self.fail(node, f"not supported (args {node.args}, kwargs {dict(node.kwargs)})")

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

    # ---- what handlers produce -----------------------------------------------------

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
        self.aliases.add(node, src)

    def check_inplace(self, node, mutated):
        """An in-place op becomes a pure one: refused if the old value is read afterwards."""
        user = self.aliases.later_reader(node, mutated)
        if user is not None:
            self.fail(node, f"modifies '{mutated.name}' in place, and FX node "
                            f"'{user.name}' reads it afterwards; Kiln cannot export "
                            "that (use the out-of-place op)")

    # ---- the walk ------------------------------------------------------------------

    def run(self, example_input):
        for node in self.fx_nodes:
            if node.op == "placeholder":
                self.placeholder(node, example_input)
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

    def placeholder(self, node, example_input):
        if self.inputs:
            self.fail(node, "a second graph input; Kiln's exporter supports one input")
        shape = ["N"] + list(example_input.shape[1:])
        self.inputs.append({"name": self.unique(node.name), "dtype": "float32", "shape": shape})
        self.value[node] = node.name

    def call_module(self, node):
        kind = type(self.module(node))
        handler = MODULE_OPS.get(kind)
        if handler is None:
            self.fail(node, f"module type {kind.__module__}.{kind.__name__} is not supported")
        handler(self, node)

    def call_function(self, node):
        handler = FUNCTION_OPS.get(node.target)
        if handler is None:
            self.unsupported(node)
        handler(self, node)

    def call_method(self, node):
        handler = METHOD_OPS.get(node.target)
        if handler is None:
            self.unsupported(node)
        handler(self, node)

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
