"""Which FX nodes share storage, and whether an in-place op may become a pure one.

Identity, Dropout, contiguous(), views (flatten) and in-place ops (relu_, add_)
give a result that shares its input's storage. Kiln's graph is pure: an in-place
op is exported as a new value, which is only right if nothing reads the mutated
storage (through any alias) after the op.
"""


class Aliases:
    def __init__(self, fx_nodes):
        self.fx_nodes = fx_nodes
        self.order = {n: i for i, n in enumerate(fx_nodes)}
        self.alias_of = {}  # FX node -> the FX node whose storage it shares

    def add(self, node, src):
        """`node` shares `src`'s storage."""
        self.alias_of[node] = src

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

    def later_reader(self, node, mutated):
        """The first FX node that reads `mutated`'s storage after the in-place op `node`
        (through any alias), or None when the op may be exported as a pure one."""
        root = self.storage_root(mutated)
        for other in self.fx_nodes:
            if other is node or self.storage_root(other) is not root:
                continue
            if other in self.alias_of and self.derived_from(other, node):
                continue  # reads the op's result: meant to see the new value
            for user in other.users:
                if user is not node and self.order[user] > self.order[node]:
                    return user
        return None
