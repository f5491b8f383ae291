// fuse_concat_batchnorm: a channel concat read only by a batchnorm becomes one
// concat_batchnorm node.
//
// Matches:    B = batchnorm(C, mean, var, weight?, bias?) with C = concat(x_0, x_1, ...)
//             along dim 1 of rank-4 activations: a DenseNet's join before each
//             layer's batchnorm + relu (and its transitions').
// Refuses:    when C's output has another user or is a graph output (the join must
//             stay), C joins a parameter or along another dim, or its inputs are not
//             rank 4.
// Guarantees: B becomes concat_batchnorm(x_0, x_1, ..., mean, var, weight?, bias?) with
//             B's name and attributes (eps, activation), C is erased; outputs are
//             unchanged up to float rounding (the normalisation is applied as one
//             multiply-add per element). Each element is then read and written once
//             instead of twice. Runs before fuse_conv_activation, which then moves the
//             relu after B into it.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_concat_batchnorm(ir::Graph& graph);

}  // namespace kiln::passes
