// fuse_swish: x * sigmoid(x) becomes silu(x), x * hardsigmoid(x) becomes hardswish(x).
//
// Matches:    M = mul(X, G) or mul(G, X), G = sigmoid(X) or hardsigmoid(X) (Kiln's
//             hardsigmoid is clamp(x / 6 + 1/2, 0, 1), so x * G is exactly hardswish).
//             torch.onnx writes SiLU this way below opset 14's HardSwish and in every
//             opset for SiLU, and hand-written swish modules (x * torch.sigmoid(x))
//             export as it too.
// Refuses:    when G's output has another user or is a graph output (it must stay).
// Guarantees: G becomes silu(X) or hardswish(X), named after M (so it computes the
//             value M did); M is erased and its users read G; outputs are unchanged
//             up to float rounding. One op instead of two, and fuse_conv_activation,
//             which runs after it, can then move it into the conv before.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_swish(ir::Graph& graph);

}  // namespace kiln::passes
