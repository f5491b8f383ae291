// conv2d's checks and kernel builder, shared with the fused ops that carry a
// convolution (conv2d_add) and add oneDNN post-ops on top of it.
#pragma once

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/conv_choice.h"
#include "ops/kernel.h"
#include "ops/winograd.h"

namespace kiln::ops {

// For a node with conv2d's inputs (x, weight, bias?) and attributes: the
// checks of conv2d's validate(), and the output shape [N, OC, OH, OW].
void validate_conv2d(const ir::Node& node);
ir::Shape conv2d_output_shape(const ir::Node& node);

// The weight of a node oneDNN's convolution computes: conv2d's input 1,
// conv2d_add's input 2 (after the residual); nullptr for any other op.
const ir::Value* conv_weight(const ir::Node& node);

// The post-ops for the node's "activation" attribute and its activation_*
// attributes (ops/activation.h); none for "none".
dnnl::post_ops activation_post_ops(const ir::Node& node);

// oneDNN's convolution for such a node: algorithm `alg`, `post_ops` on its
// output, every layout format_tag::any. Empty where oneDNN has no kernel for
// it (dnnl_unimplemented, e.g. Winograd on a CPU without AVX-512); other
// oneDNN failures throw kiln::Error naming the node.
dnnl::convolution_forward::primitive_desc conv2d_pd(const ir::Node& node,
                                                    const CompileContext& ctx,
                                                    const dnnl::post_ops& post_ops,
                                                    dnnl::algorithm alg);

// The node's weight and bias packed once into the layouts `pd` chose
// (DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS).
Constants pack_conv2d_params(const ir::Node& node,
                             const dnnl::convolution_forward::primitive_desc& pd);

// The kernel `choice` (choose_conv_algo, ops/conv_choice.h) names for such a
// node, carrying the choice's reason: Kiln's Winograd, or oneDNN's
// convolution built from choice.pd (whose post-ops match the epilogue).
// epilogue.residual gives both the same form: none, one activation input x;
// in_place (conv2d_add's sum post-op), the output overwrites activation
// input 1 (the residual, given in the output's layout); input, activation
// input 1 is read (a binary post-op, in the layout oneDNN asks for).
std::unique_ptr<Kernel> compile_conv2d_choice(const ir::Node& node, const ConvChoice& choice,
                                              WinogradEpilogue epilogue);

// The kernel ctx.conv_algo gives such a node: choose_conv_algo's choice, or
// under `tune` the fastest candidate as timed (ops/conv_tune.h).
// `epilogue_fits`: as choose_conv_algo's.
std::unique_ptr<Kernel> compile_conv(const ir::Node& node, const CompileContext& ctx,
                                     const dnnl::post_ops& post_ops, bool epilogue_fits,
                                     WinogradEpilogue epilogue);

}  // namespace kiln::ops
