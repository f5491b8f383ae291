// fuse_conv_relu: moves each relu into the conv before it, as a oneDNN eltwise post-op.
//
// Matches:    conv2d -> relu and conv2d_add -> relu (the relu's input produced by a
//             conv whose "activation" is "none").
// Refuses:    when the conv's output has another user or is a graph output, or the
//             conv already applies an activation.
// Guarantees: the relu is erased, its users read the conv, which now has
//             activation = "relu"; outputs are unchanged (max(y, 0) is exact).
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_conv_relu(ir::Graph& graph);

}  // namespace kiln::passes
