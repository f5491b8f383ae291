// fuse_squeeze_excite: a squeeze-and-excitation block becomes one
// squeeze_excite node.
//
// Matches:    M = mul(X, G) or mul(G, X) with G = conv2d(F), F = conv2d(P),
//             P = global_avg_pool2d(X): both convs 1x1, stride 1, no padding or
//             dilation, one group (MobileNetV3's, EfficientNet's and RegNetY's
//             blocks, once fuse_conv_activation has moved their activations in).
// Refuses:    when P, F or G has another user or is a graph output (it must stay).
// Guarantees: M becomes squeeze_excite(X, F's weight and bias, G's weight and bias)
//             with M's name, F's activation as squeeze_activation and G's as
//             gate_activation (with their attributes); a conv without a bias gets a
//             zero one; P, F and G are erased. Outputs are unchanged up to float
//             rounding. Runs after fuse_conv_activation.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_squeeze_excite(ir::Graph& graph);

}  // namespace kiln::passes
