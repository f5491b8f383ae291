"""Attribute values as graph.json holds them."""


def pair(v):
    """An int or a pair of ints (a module's kernel_size, stride, ...) as [h, w]."""
    return [int(v), int(v)] if isinstance(v, int) else [int(e) for e in v]
