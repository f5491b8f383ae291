// fuse_channel_shuffle: the reshape -> permute -> reshape that spells a
// channel shuffle becomes one channel_shuffle node, with the concat before it.
//
// Matches:    R2 = reshape(P), P = permute(R1) with dims [0, 2, 1, 3, 4],
//             R1 = reshape(x) from [N, C, H, W] to [N, G, C/G, H, W], and R2's
//             shape [N, C, H, W] again: torchvision's ShuffleNetV2 and its ONNX
//             export (Reshape, Transpose, Reshape). When x = concat(x_0, x_1, ...)
//             along dim 1 of rank-4 activations, read by R1 alone, the concat too.
// Refuses:    when R1's or P's output has another user or is a graph output (the
//             views must stay); a concat that must stay or joins parameters is left
//             out (the shuffle still fuses, reading its output).
// Guarantees: R2 becomes channel_shuffle(x) or channel_shuffle(x_0, x_1, ...)
//             {groups = G} with R2's name and users; R1, P and the concat are
//             erased. Outputs are unchanged bit for bit (the op only moves data),
//             and the data moves once instead of three times.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_channel_shuffle(ir::Graph& graph);

}  // namespace kiln::passes
