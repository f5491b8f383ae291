// conv2d's kernel builder, shared with the fused ops that will add oneDNN
// post-ops (conv2d + relu, conv2d + add) on top of the same convolution.
#pragma once

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"

namespace kiln::ops {

// The conv2d kernel for a node with conv2d's inputs and attributes, with
// `post_ops` applied to its output (empty for a plain conv2d).
std::unique_ptr<Kernel> compile_conv2d(const ir::Node& node, const CompileContext& ctx,
                                       const dnnl::post_ops& post_ops);

}  // namespace kiln::ops
