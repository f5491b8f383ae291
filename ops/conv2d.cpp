// conv2d: 2-D convolution, as torch.nn.functional.conv2d.
//
//   y[n, oc, oh, ow] = bias[oc] + sum over ic in oc's group, kh, kw of
//       x[n, ic, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] * weight[oc, ic % (C/G), kh, kw]
//   (x taken as 0 outside the input)
//   OH = (H + 2*PH - DH*(KH-1) - 1) / SH + 1, the same for OW
//
// inputs   x       activation [N, C, H, W]
//          weight  parameter  [OC, C/G, KH, KW]
//          bias    parameter  [OC], optional
// output   y       [N, OC, OH, OW]
// attrs    stride    [SH, SW]  ints >= 1  default [1, 1]
//          padding   [PH, PW]  ints >= 0  default [0, 0]  (both sides)
//          dilation  [DH, DW]  ints >= 1  default [1, 1]
//          groups    G         int >= 1   default 1; divides C and OC
//          activation  "none" or an activation's name (relu, clamp, sigmoid, silu,
//                      hardswish, hardsigmoid, tanh, gelu, leaky_relu, elu), default
//                      "none": y = activation(y) as oneDNN eltwise post-ops, its
//                      attributes as activation_<attr> (ops/activation.h); set by
//                      fuse_conv_activation
//
// Every layout is format_tag::any: the primitive picks the blocked src, weight
// and dst layouts it runs fastest on, the weights are reordered into theirs
// once, and the engine reorders x to the chosen src layout if its producer
// wrote another. oneDNN counts dilation from 0 (torch's DH - 1). The
// algorithm is the one choose_conv_algo (ops/conv_choice.h) picks from
// CompileContext::conv_algo: oneDNN's direct convolution, oneDNN's Winograd
// (its weights and activations take their own blocked layouts, so the engine
// reorders at its borders) or Kiln's own (ops/winograd.h; it keeps the direct
// kernel's layouts, so no reorders).
#include "ops/conv2d.h"

#include <optional>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/common.h"
#include "ops/conv_layout.h"
#include "ops/conv_tune.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

namespace {
struct Conv2dAttrs {
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
  std::string activation;
};
}  // namespace

static Conv2dAttrs read_attrs(const ir::Node& node) {
  Conv2dAttrs a;
  a.stride = ir::attr_ints_checked(node, "stride", 2, 1, {1, 1});
  a.padding = ir::attr_ints_checked(node, "padding", 2, 0, {0, 0});
  a.dilation = ir::attr_ints_checked(node, "dilation", 2, 1, {1, 1});
  a.groups = ir::attr_int(node, "groups", 1);
  if (a.groups < 1)
    throw Error(node.where(), "attribute 'groups': expected a positive integer, got " +
                                  std::to_string(a.groups));
  a.activation = ir::attr_string(node, "activation", "none");
  post_op_activation_steps(node);  // checks the name and its activation_* attributes
  return a;
}

static int64_t out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

void validate_conv2d(const ir::Node& node) {
  std::vector<std::string> known = {"stride", "padding", "dilation", "groups"};
  for (const std::string& name : post_op_activation_attr_names()) known.push_back(name);
  ir::check_known_attrs(node, known);
  Conv2dAttrs a = read_attrs(node);
  require_activation(node, 0, "x");
  require_param(node, 1, "weight");
  if (node.inputs.size() == 3) require_param(node, 2, "bias");
  require_rank(node, 0, "x", 4);
  require_rank(node, 1, "weight", 4);

  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  const std::string& w_name = node.inputs[1]->name;
  for (size_t d = 1; d < 4; ++d) {
    if (x[d] < 1)
      throw Error(node.where(), "x '" + node.inputs[0]->name +
                                    "': expected positive C, H, W, got " + ir::shape_str(x));
  }
  for (int64_t d : w) {
    if (d < 1)
      throw Error(node.where(), "weight '" + w_name + "': expected positive dimensions, got " +
                                    ir::shape_str(w));
  }
  const int64_t C = x[1], OC = w[0], G = a.groups;
  if (C % G != 0 || OC % G != 0)
    throw Error(node.where(), "groups " + std::to_string(G) + " must divide input channels " +
                                  std::to_string(C) + " and output channels " + std::to_string(OC));
  if (w[1] * G != C)
    throw Error(node.where(), "weight '" + w_name + "' " + ir::shape_str(w) + ": expected " +
                                  std::to_string(C / G) + " input channels per group (x has " +
                                  std::to_string(C) + " channels, groups " + std::to_string(G) +
                                  "), got " + std::to_string(w[1]));
  if (node.inputs.size() == 3) require_shape(node, 2, "bias", {OC});

  const char* axis[] = {"H", "W"};
  for (size_t i = 0; i < 2; ++i) {
    int64_t in = x[2 + i], k = w[2 + i];
    int64_t span = a.dilation[i] * (k - 1) + 1, padded = in + 2 * a.padding[i];
    if (span > padded)
      throw Error(node.where(), std::string("kernel along ") + axis[i] + " spans " +
                                    std::to_string(span) + " (kernel " + std::to_string(k) +
                                    ", dilation " + std::to_string(a.dilation[i]) +
                                    "), larger than the padded input " + std::to_string(padded) +
                                    ": the output would be empty");
  }
}

const ir::Value* conv_weight(const ir::Node& node) {
  if (node.op == "conv2d" && node.inputs.size() > 1) return node.inputs[1];
  if (node.op == "conv2d_add" && node.inputs.size() > 2) return node.inputs[2];
  return nullptr;
}

ir::Shape conv2d_output_shape(const ir::Node& node) {
  Conv2dAttrs a = read_attrs(node);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  return {x[0], w[0], out_size(x[2], w[2], a.stride[0], a.padding[0], a.dilation[0]),
          out_size(x[3], w[3], a.stride[1], a.padding[1], a.dilation[1])};
}

static dnnl::convolution_forward::primitive_desc make_pd(const ir::Node& node,
                                                         const CompileContext& ctx,
                                                         const dnnl::post_ops& post_ops,
                                                         dnnl::algorithm alg) {
  Conv2dAttrs a = read_attrs(node);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  const bool bias = node.inputs.size() == 3;
  const ir::Shape y = conv2d_output_shape(node);
  const int64_t N = x[0], C = x[1], OC = w[0], G = a.groups, KH = w[2], KW = w[3];
  auto any = [](const memory::dims& dims) {
    return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
  };
  // Grouped weights carry the group as a leading dimension: [G, OC/G, C/G, KH, KW].
  ir::Shape w_shape = G == 1 ? ir::Shape{OC, C, KH, KW} : ir::Shape{G, OC / G, C / G, KH, KW};
  memory::desc src = any({N, C, x[2], x[3]});
  memory::desc wei = any(to_dims(w_shape));
  memory::desc dst = any(to_dims(y));
  memory::dims strides = {a.stride[0], a.stride[1]};
  memory::dims dilates = {a.dilation[0] - 1, a.dilation[1] - 1};
  memory::dims pad = {a.padding[0], a.padding[1]};
  auto make = [&](const memory::desc& src, const memory::desc& dst) {
    const auto prop = dnnl::prop_kind::forward_inference;
    dnnl::convolution_forward::desc desc =
        bias ? dnnl::convolution_forward::desc(prop, alg, src, wei, any({OC}), dst, strides,
                                               dilates, pad, pad)
             : dnnl::convolution_forward::desc(prop, alg, src, wei, dst, strides, dilates, pad,
                                               pad);
    return dnnl::convolution_forward::primitive_desc(desc, make_attr(post_ops), ctx.engine);
  };
  // The given layouts where a kernel other than oneDNN's reference runs them.
  auto fast = [&](const memory::desc& src, const memory::desc& dst)
      -> std::optional<dnnl::convolution_forward::primitive_desc> {
    try {
      dnnl::convolution_forward::primitive_desc pd = make(src, dst);
      if (!is_reference(pd.impl_info_str())) return pd;
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
    }
    return std::nullopt;
  };
  if (alg != dnnl::algorithm::convolution_direct) return make(src, dst);  // Winograd keeps its own
  // The blocked layout: src stays `any` below one block of channels (a
  // network's RGB input), and a node only oneDNN's reference kernel runs
  // blocked (RegNetY's 8-channel groups) keeps `any` too.
  if (ctx.blocked_convs) {
    const memory::format_tag tag = blocked_conv_tag();
    memory::desc blocked_src =
        C >= vector_width() ? memory::desc({N, C, x[2], x[3]}, memory::data_type::f32, tag) : src;
    if (auto pd = fast(blocked_src, memory::desc(to_dims(y), memory::data_type::f32, tag)))
      return *pd;
  }
  // A grouped conv that is not depthwise, its input arriving in nhwc (from
  // brgconv on AVX-512): with `any` oneDNN 2.6 picks nChw16c for it, and the
  // engine reorders in and out; its grouped kernel (jit:avx512_core) runs
  // nhwc as fast (16 channels per group, batch 1: 0.153 vs 0.140 ms at
  // 64 x 56x56, equal from 128 x 28x28 down), so it stays in nhwc.
  const memory::desc nhwc_src({N, C, x[2], x[3]}, memory::data_type::f32, memory::format_tag::nhwc);
  if (G > 1 && C / G > 1 && !ctx.input_descs.empty() && ctx.input_descs[0] == nhwc_src) {
    if (auto pd = fast(nhwc_src, memory::desc(to_dims(y), memory::data_type::f32,
                                              memory::format_tag::nhwc)))
      return *pd;
  }
  return make(src, dst);
}

dnnl::convolution_forward::primitive_desc conv2d_pd(const ir::Node& node,
                                                    const CompileContext& ctx,
                                                    const dnnl::post_ops& post_ops,
                                                    dnnl::algorithm alg) {
  return with_node(node, [&]() -> dnnl::convolution_forward::primitive_desc {
    try {
      return make_pd(node, ctx, post_ops, alg);
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
      return {};
    }
  });
}

Constants pack_conv2d_params(const ir::Node& node,
                             const dnnl::convolution_forward::primitive_desc& pd) {
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Tensor& weight = *node.inputs[1]->data;
  const ir::Tensor* bias = node.inputs.size() == 3 ? node.inputs[2]->data.get() : nullptr;
  const int64_t C = x[1], OC = weight.shape[0], G = read_attrs(node).groups;
  const int64_t KH = weight.shape[2], KW = weight.shape[3];
  ir::Shape w_shape = G == 1 ? ir::Shape{OC, C, KH, KW} : ir::Shape{G, OC / G, C / G, KH, KW};
  return with_node(node, [&] {
    Constants constants;
    pack_param(constants, DNNL_ARG_WEIGHTS, weight, pd.weights_desc(), w_shape);
    if (bias) pack_param(constants, DNNL_ARG_BIAS, *bias, pd.bias_desc());
    return constants;
  });
}

namespace {
// The in-place kernel: the residual is already in the output's buffer (the
// engine gives the output the residual's buffer), so it is not bound itself.
class ConvSumKernel : public PrimitiveKernel {
 public:
  using PrimitiveKernel::PrimitiveKernel;
  memory::desc input_desc(size_t i) const override {
    return i == 1 ? output_desc() : PrimitiveKernel::input_desc(i);
  }
  int inplace_input() const override { return 1; }
};
}  // namespace

std::unique_ptr<Kernel> compile_conv2d_choice(const ir::Node& node, const ConvChoice& choice,
                                              WinogradEpilogue epilogue) {
  std::unique_ptr<Kernel> kernel = with_node(node, [&]() -> std::unique_ptr<Kernel> {
    if (choice.kernel == ConvKernel::kiln_winograd)
      return compile_winograd_conv(node, choice.pd, epilogue);
    const auto& pd = choice.pd;
    Constants constants = pack_conv2d_params(node, pd);
    std::vector<PrimitiveKernel::Input> inputs = {{DNNL_ARG_SRC, pd.src_desc()}};
    using Residual = WinogradEpilogue::Residual;
    if (epilogue.residual == Residual::in_place) {
      return std::make_unique<ConvSumKernel>(dnnl::convolution_forward(pd), inputs, pd.dst_desc(),
                                             pd.scratchpad_desc(), std::move(constants));
    }
    if (epilogue.residual == Residual::input) {
      const int residual_arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1;
      inputs.push_back({residual_arg, pd.query_md(dnnl::query::exec_arg_md, residual_arg)});
    }
    return std::make_unique<PrimitiveKernel>(dnnl::convolution_forward(pd), inputs, pd.dst_desc(),
                                             pd.scratchpad_desc(), std::move(constants));
  });
  kernel->set_reason(choice.reason);
  return kernel;
}

std::unique_ptr<Kernel> compile_conv(const ir::Node& node, const CompileContext& ctx,
                                     const dnnl::post_ops& post_ops, bool epilogue_fits,
                                     WinogradEpilogue epilogue) {
  if (ctx.conv_algo == ConvAlgo::tune)
    return compile_conv_tuned(node, ctx, post_ops, epilogue_fits, epilogue);
  return compile_conv2d_choice(node, choose_conv_algo(node, ctx, post_ops, epilogue_fits),
                               epilogue);
}

dnnl::post_ops activation_post_ops(const ir::Node& node) {
  dnnl::post_ops post_ops;
  append_activation(post_ops, post_op_activation_steps(node));
  return post_ops;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  dnnl::post_ops post_ops = activation_post_ops(node);
  WinogradEpilogue epilogue;
  epilogue.relu = read_attrs(node).activation == "relu";
  // Kiln's Winograd epilogue does relu only: another activation runs oneDNN's.
  const bool epilogue_fits = epilogue.relu || read_attrs(node).activation == "none";
  return compile_conv(node, ctx, post_ops, epilogue_fits, epilogue);
}

void register_conv2d(Registry& r) {
  ir::OpSchema schema{2, 3, validate_conv2d, conv2d_output_shape};
  schema.takes_activations = activation_names();
  r.add({"conv2d", schema, compile});
}

}  // namespace kiln::ops
