// fuse_conv_add: merges a conv2d, the add reading it and a relu after the add
// into one conv2d_add node (a ResNet block's closing conv -> add -> relu).
//
// Matches:    add(a, b) of two activations of one shape where a (else b) is produced by a
//             conv2d with activation "none"; the other operand is the residual; the
//             add's relu is taken along.
// Refuses:    a broadcast add or one with a parameter operand; an add where neither
//             operand is such a conv whose only user is the add and that is not a graph
//             output; the relu stays separate when the add's output has another user or
//             is a graph output.
// Guarantees: the add becomes conv2d_add(x, residual, weight, bias?), in the add's place
//             in the order and named after the conv; the conv and the relu are erased;
//             outputs are unchanged up to float rounding.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_conv_add(ir::Graph& graph);

}  // namespace kiln::passes
