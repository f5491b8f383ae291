// conv2d's checks and kernel builder, shared with the fused ops that carry a
// convolution (conv2d_add) and add oneDNN post-ops on top of it.
#pragma once

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"
#include "ops/winograd.h"

namespace kiln::ops {

// For a node with conv2d's inputs (x, weight, bias?) and attributes: the
// checks of conv2d's validate(), and the output shape [N, OC, OH, OW].
void validate_conv2d(const ir::Node& node);
ir::Shape conv2d_output_shape(const ir::Node& node);

// The post-ops for the node's "activation" attribute and its activation_*
// attributes (ops/activation.h); none for "none".
dnnl::post_ops activation_post_ops(const ir::Node& node);

// oneDNN's convolution for such a node: algorithm `alg`, `post_ops` on its
// output, every layout format_tag::any. Empty where oneDNN has no kernel for
// it (dnnl_unimplemented, e.g. Winograd on a CPU without AVX-512).
dnnl::convolution_forward::primitive_desc conv2d_pd(const ir::Node& node,
                                                    const CompileContext& ctx,
                                                    const dnnl::post_ops& post_ops,
                                                    dnnl::algorithm alg);

// The convolution primitive for such a node with `post_ops` applied to its
// output, every layout format_tag::any, and its weight and bias packed once
// into the layouts it chose (DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS). Its algorithm
// is oneDNN's Winograd where ctx.conv_algo asks for it and oneDNN has it,
// else direct.
struct Conv2dPrimitive {
  dnnl::convolution_forward::primitive_desc pd;
  Constants constants;
};
Conv2dPrimitive build_conv2d(const ir::Node& node, const CompileContext& ctx,
                             const dnnl::post_ops& post_ops);

// Kiln's own Winograd kernel (ops/winograd.h) for such a node where
// ctx.conv_algo picks it, else nullptr (then build_conv2d's primitive runs).
// `post_ops` are the ones oneDNN's kernel would get, `epilogue` the same
// steps for Kiln's; with ConvAlgo::winograd, Kiln's runs only where oneDNN
// has no Winograd for the node with those post-ops.
std::unique_ptr<Kernel> compile_conv2d_kiln_winograd(const ir::Node& node,
                                                     const CompileContext& ctx,
                                                     const dnnl::post_ops& post_ops,
                                                     WinogradEpilogue epilogue);

// The conv2d kernel (one activation input, x) with `post_ops` on its output.
std::unique_ptr<Kernel> compile_conv2d(const ir::Node& node, const CompileContext& ctx,
                                       const dnnl::post_ops& post_ops);

}  // namespace kiln::ops
