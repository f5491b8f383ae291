"""Attribute values as graph.json holds them."""


def pair(v):
    """An int or a pair of ints (a module's kernel_size, stride, ...) as [h, w]; (k,) is (k, k)."""
    if isinstance(v, int):
        return [v, v]
    v = [int(e) for e in v]
    return v * 2 if len(v) == 1 else v
