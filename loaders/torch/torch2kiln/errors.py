"""The exporter's one error type, and how an FX node is named in its messages."""

import torch.fx


class ExportError(Exception):
    """Anything the exporter refuses; the message is one line."""


def describe(node):
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
