"""The handlers of op_table.py, by family. A handler takes (b, node): the Builder and
one FX node. It checks the node's arguments, then emits Kiln nodes with b.emit, or
makes the node an alias of its input with b.alias, or refuses it with b.fail."""
