// The one place that decides how a convolution node (conv2d, conv2d_add) is
// computed: oneDNN's direct kernel, oneDNN's Winograd or Kiln's own Winograd
// (ops/winograd.h), from CompileContext::conv_algo, the node's shape and
// what this CPU has (for `auto`, also what `tune` measured on it:
// CompileContext::conv_tunings). It returns the choice with its reason, and the oneDNN
// primitive descriptor the kernel is then built from, so each conv builds
// one descriptor (a probe for oneDNN's Winograd that finds none builds
// nothing).
#pragma once

#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"

namespace kiln::ops {

struct ConvChoice {
  ConvKernel kernel = ConvKernel::direct;
  // "<kernel>: <why>", e.g. "direct: 1x1 kernel" or "kiln winograd: 3x3
  // stride 1, oneDNN has no Winograd for it on this CPU"; shown by profiles.
  std::string reason;
  // direct, onednn_winograd: the convolution to build, with the post-ops.
  // kiln_winograd: oneDNN's direct convolution without post-ops, the layouts
  // its neighbours use, which Kiln's kernel reads (src) and writes (dst).
  dnnl::convolution_forward::primitive_desc pd;
};

// For a conv2d-shaped node (x, weight, bias?; conv2d's attributes), whose
// output gets `post_ops` in oneDNN's kernels. `epilogue_fits`: the node's
// activation is none or relu, the only ones Kiln's Winograd epilogue does;
// otherwise Kiln's Winograd is refused. Throws kiln::Error naming the node
// if oneDNN cannot build even the direct convolution.
ConvChoice choose_conv_algo(const ir::Node& conv_node, const CompileContext& ctx,
                            const dnnl::post_ops& post_ops, bool epilogue_fits);

// Every kernel that can run the node, for `tune` to time: direct first, then
// oneDNN's Winograd and Kiln's where they run it (the arguments as above).
// Where direct is the only one, its reason says why the others are not.
std::vector<ConvChoice> conv_candidates(const ir::Node& conv_node, const CompileContext& ctx,
                                        const dnnl::post_ops& post_ops, bool epilogue_fits);

}  // namespace kiln::ops
