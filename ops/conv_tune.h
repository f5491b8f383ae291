// ConvAlgo::tune: each conv node's candidate kernels (conv_candidates,
// ops/conv_choice.h) built and timed on the node's real shapes, batch
// included, on the threads the compile runs with; the fastest is kept. The
// times go to CompileContext::conv_tunings under the layer's signature, so
// that engine/conv_tune_cache can store them and `auto` follow them later.
#pragma once

#include <memory>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"
#include "ops/winograd.h"

namespace kiln::ops {

// What the time of a conv layer depends on besides the CPU: op, input and
// weight shapes, bias, stride, padding, dilation, groups, activation with its
// attributes, and the post-ops (conv2d_add's residual added in place or
// read), e.g. "conv2d_add x [1, 64, 56, 56] weight [64, 64, 3, 3] bias stride
// [1, 1] padding [1, 1] dilation [1, 1] groups 1 activation relu post-ops sum eltwise".
// Convs asked for the blocked layout (CompileContext::blocked_convs) end in
// " layout blocked": oneDNN's direct kernel differs there.
std::string conv_signature(const ir::Node& conv_node, const dnnl::post_ops& post_ops,
                           bool blocked = false);

// The kernel of a conv2d-shaped node under ConvAlgo::tune (arguments as
// compile_conv2d_choice's and choose_conv_algo's, ops/conv2d.h). A node only
// direct runs is not timed. A node whose signature ctx.conv_tunings already
// has (an identical layer earlier in this compile) takes the fastest there.
// Otherwise each candidate runs twice untimed, then all are timed in turns
// (A B C A B C ...), each run with the reorders its inputs need from the
// layouts their producers write, 3 to 9 turns within about 40 ms; the
// fastest median wins. The kernel's reason lists the medians:
//   "kiln winograd: tune: direct 0.412 ms, onednn winograd 0.331 ms, kiln winograd 0.3 ms"
std::unique_ptr<Kernel> compile_conv_tuned(const ir::Node& conv_node, const CompileContext& ctx,
                                           const dnnl::post_ops& post_ops, bool epilogue_fits,
                                           WinogradEpilogue epilogue);

}  // namespace kiln::ops
