// fuse_squeeze_excite: a squeeze-and-excitation block becomes one
// squeeze_excite node.
//
// Matches:    M = mul(X, G) or mul(G, X) with G = conv2d(F), F = conv2d(P),
//             P = global_avg_pool2d(X): both convs 1x1, stride 1, no padding or
//             dilation, one group (MobileNetV3's, EfficientNet's and RegNetY's
//             blocks, once fuse_conv_activation has moved their activations in).
// Refuses:    when P, F or G has another user or is a graph output (it must stay).
//             Also takes in A when X = A(X0) is a standalone activation that only
//             the block reads (EfficientNet's silu after each depthwise conv).
// Guarantees: M becomes squeeze_excite(X (X0 with A), F's weight and bias, G's weight
//             and bias) with M's name, F's activation as squeeze_activation, G's as
//             gate_activation and A as input_activation (with their attributes); a
//             conv without a bias gets a zero one; P, F, G (and A) are erased.
//             Outputs are unchanged up to float rounding. Runs after
//             fuse_conv_activation.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_squeeze_excite(ir::Graph& graph, const ir::OpTable& ops);

}  // namespace kiln::passes
