"""The walk over a traced FX graph that builds Kiln's graph: one Kiln node (or an
alias) per FX node, each made by its handler in op_table.py. The helpers here are
what handlers use: argument and shape checks, parameters, emit and alias.

The walk goes on past a node it cannot export, so that one run names every op of
the model Kiln cannot take (export() then raises with the list)."""

import torch
import torch.fx

from .aliases import Aliases
from .errors import ExportError, describe, op_name
from .op_table import EMITTED_OPS, FUNCTION_OPS, METHOD_OPS, MODULE_OPS


class Builder:
    def __init__(self, gm):
        self.gm = gm
        self.fx_nodes = list(gm.graph.nodes)
        self.aliases = Aliases(self.fx_nodes)
        self.nodes = []        # Kiln nodes: dicts with name, op, inputs, attrs
        self.params = {}       # param name -> tensor, in first-use order
        self.value = {}        # FX node -> Kiln value name (aliases map to their source)
        self.shape_info = {}   # FX node -> a size or sizes: x.size(d), x.shape (ops/shapes.py)
        self.pieces = {}       # FX node -> [(axis, start, end)]: the tuple x.chunk(), x.split() give
        self.constants = {}    # FX node -> tensor: module tensors (get_attr) and values of them alone
        self.taken = set()     # every name used so far (inputs, nodes, params)
        self.inputs = []
        self.outputs = []
        self.problems = []     # (op as the user wrote it, FX node, message): what cannot be exported
        self.failed = set()    # FX nodes that could not be exported

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
        """The Kiln value name of `arg`, which must be a tensor computed from the input."""
        if not isinstance(arg, torch.fx.Node) or arg not in self.value:
            self.fail(node, f"{what} must be a tensor computed by the graph, got {arg!r}")
        if arg in self.constants:
            self.fail(node, f"{what} must be computed from the graph input, got the module "
                            f"tensor '{self.value[arg]}'")
        return self.value[arg]

    def operand(self, node, arg, what="input"):
        """The Kiln value name of `arg`: a tensor computed from the input, or a module tensor."""
        if isinstance(arg, torch.fx.Node) and arg in self.constants:
            return self.value[arg]
        return self.tensor(node, arg, what)

    def is_constant(self, arg):
        return isinstance(arg, torch.fx.Node) and arg in self.constants

    def module(self, node):
        return self.gm.get_submodule(node.target)

    def only_arg(self, node):
        if len(node.args) != 1 or node.kwargs:
            self.fail(node, f"expected one tensor argument, got args {node.args} kwargs {node.kwargs}")
        return node.args[0]

    def call_args(self, node, *spec):
        """The arguments of a function or method call, in the order of `spec`: each entry
        a name (required) or (name, default), as in the function's signature. Refuses
        other keywords and extra arguments."""
        names = [s if isinstance(s, str) else s[0] for s in spec]
        if len(node.args) > len(names) or not set(node.kwargs) <= set(names[len(node.args):]):
            self.unsupported(node)
        values = []
        for i, (name, s) in enumerate(zip(names, spec)):
            if i < len(node.args):
                values.append(node.args[i])
            elif name in node.kwargs:
                values.append(node.kwargs[name])
            elif isinstance(s, str):
                self.fail(node, f"missing argument '{name}'")
            else:
                values.append(s[1])
        return values

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

    def constant(self, node, t, name):
        """Adds the tensor `t` as a parameter named `name` (made unique); returns the name.
        Its dtype is checked when a Kiln node reads it (an int buffer may only index)."""
        name = self.unique(name)
        self.params[name] = t
        return name

    def scalar(self, node, value):
        """A number in arithmetic (x * 0.5, x + 3) as a parameter of shape []."""
        return self.constant(node, torch.tensor(float(value), dtype=torch.float32),
                             f"{node.name}.constant")

    def emit(self, node, op, inputs, attrs=None):
        """Adds a Kiln node for the FX node `node` (the last one emitted is its value)."""
        if op not in EMITTED_OPS:
            raise AssertionError(f"exporter bug: op '{op}' missing from EMITTED_OPS")
        for i in inputs:
            if i in self.params and self.params[i].dtype != torch.float32:
                self.fail(node, f"parameter '{i}': expected float32, got {self.params[i].dtype}")
        base = node.target if node.op == "call_module" else node.name
        name = self.unique(base)
        self.nodes.append({"name": name, "op": op, "inputs": inputs, "attrs": attrs or {}})
        self.value[node] = name
        return name

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
        """Builds the Kiln graph; raises one ExportError listing every op that cannot be
        exported. A node whose input failed is still visited, and a refusal there is
        not listed (it is most likely a consequence), but a form with no handler is."""
        for node in self.fx_nodes:
            handler = self.handler(node)
            try:
                if node.op == "placeholder":
                    self.placeholder(node, example_input)
                elif node.op == "output":
                    self.output(node)
                elif node.op == "get_attr":
                    self.get_attr(node)
                elif self.all_constant(node):
                    self.fold_constant(node)
                elif handler is None:
                    self.no_handler(node)
                else:
                    handler(self, node)
            except ExportError as e:
                self.failed.add(node)
                self.value.setdefault(node, node.name)
                if handler is None or not any(n in self.failed for n in node.all_input_nodes):
                    self.problems.append((op_name(node, self.gm), node, str(e)))
        if self.problems:
            raise ExportError(self.report())
        self.drop_dead_nodes()

    def handler(self, node):
        if node.op == "call_module":
            return MODULE_OPS.get(type(self.module(node)))
        if node.op == "call_function":
            return FUNCTION_OPS.get(node.target)
        if node.op == "call_method":
            return METHOD_OPS.get(node.target)
        return None

    def no_handler(self, node):
        if node.op == "call_module":
            kind = type(self.module(node))
            self.fail(node, f"module type {kind.__module__}.{kind.__name__} is not supported")
        self.unsupported(node)

    def report(self):
        """One line: each op that cannot be exported, how many nodes, and the first one."""
        groups = {}  # op -> [count, message of the first node]
        for op, _, message in self.problems:
            groups.setdefault(op, [0, message])[0] += 1
        parts = [f"{op} x{count} (first: {message})" for op, (count, message) in groups.items()]
        what = "1 op" if len(groups) == 1 else f"{len(groups)} ops"
        return f"{what} cannot be exported: " + "; ".join(parts)

    def placeholder(self, node, example_input):
        if self.inputs:
            self.fail(node, "a second graph input; Kiln's exporter supports one input")
        shape = ["N"] + list(example_input.shape[1:])
        self.inputs.append({"name": self.unique(node.name), "dtype": "float32", "shape": shape})
        self.value[node] = node.name

    def get_attr(self, node):
        """A module tensor used directly in forward() (ConvNeXt's layer_scale): a parameter."""
        t = self.gm
        for part in node.target.split("."):
            t = getattr(t, part)
        if not isinstance(t, torch.Tensor):
            self.fail(node, f"expected a tensor, got {type(t).__name__}")
        self.constants[node] = t.detach()
        self.value[node] = self.constant(node, t.detach(), node.target)

    def all_constant(self, node):
        """A function or method of module tensors alone (no graph input): computed here."""
        inputs = node.all_input_nodes
        return (node.op in ("call_function", "call_method") and inputs
                and all(n in self.constants for n in inputs))

    def fold_constant(self, node):
        args = torch.fx.node.map_arg(node.args, lambda n: self.constants[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.constants[n])
        with torch.no_grad():
            if node.op == "call_function":
                t = node.target(*args, **kwargs)
            else:
                t = getattr(args[0], node.target)(*args[1:], **kwargs)
        if isinstance(t, torch.Size) or (isinstance(t, int) and not isinstance(t, bool)):
            self.shape_info[node] = tuple(t) if isinstance(t, torch.Size) else t  # w.shape[0]
            return
        if not isinstance(t, torch.Tensor):
            self.fail(node, f"a computation on module tensors alone that gives a "
                            f"{type(t).__name__}, not a tensor or a size, is not supported")
        self.constants[node] = t
        self.value[node] = self.constant(node, t, node.name)

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
