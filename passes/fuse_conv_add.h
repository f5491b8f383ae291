// fuse_conv_add: merges a conv2d and the add reading it into one conv2d_add node (a
// ResNet block's closing conv -> add; fuse_conv_activation then takes the relu after it).
//
// Matches:    add(a, b) of two activations of one shape where a (else b) is produced by a
//             conv2d with activation "none"; the other operand is the residual.
// Refuses:    a broadcast add or one with a parameter operand; an add where neither
//             operand is such a conv whose only user is the add and that is not a graph
//             output.
// Guarantees: the add becomes conv2d_add(x, residual, weight, bias?) with activation
//             "none", in the add's place in the order and named after the conv; the conv
//             is erased; outputs are unchanged up to float rounding.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_conv_add(ir::Graph& graph);

}  // namespace kiln::passes
