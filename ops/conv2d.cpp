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
// algorithm is convolution_direct unless CompileContext::conv_algo asks for
// Winograd: oneDNN's (use_onednn_winograd below; its weights and activations
// take their own blocked layouts, so the engine reorders at its borders) or
// Kiln's own (compile_conv2d_kiln_winograd, ops/winograd.h; it keeps the
// direct kernel's layouts, so no reorders).
#include "ops/conv2d.h"

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/common.h"
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

ir::Shape conv2d_output_shape(const ir::Node& node) {
  Conv2dAttrs a = read_attrs(node);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  return {x[0], w[0], out_size(x[2], w[2], a.stride[0], a.padding[0], a.dilation[0]),
          out_size(x[3], w[3], a.stride[1], a.padding[1], a.dilation[1])};
}

// The convolutions Winograd computes, oneDNN's and Kiln's alike: 3x3,
// stride 1, dilation 1, one group.
static bool winograd_shape(const Conv2dAttrs& a, int64_t KH, int64_t KW) {
  return a.groups == 1 && KH == 3 && KW == 3 && a.stride == std::vector<int64_t>{1, 1} &&
         a.dilation == std::vector<int64_t>{1, 1};
}

// Whether to ask oneDNN for its Winograd kernel (F(2x2, 3x3) or F(4x4, 3x3)).
// ConvAlgo::automatic's rule comes from timing both algorithms on square 3x3
// stride-1 convs, C = OC from 8 to 512, H = W from 7 to 112, batch 1 and 10
// (oneDNN 2.6, AVX-512 Zen 4): Winograd took 0.32-0.88x the direct time from
// 32 channels up, 0.73-0.96x at 16, and 1.06-1.87x at 8. So: 32 and up.
static bool use_onednn_winograd(ConvAlgo algo, const Conv2dAttrs& a, int64_t C, int64_t OC,
                                int64_t KH, int64_t KW) {
  if (!winograd_shape(a, KH, KW)) return false;
  switch (algo) {
    case ConvAlgo::direct: return false;
    case ConvAlgo::winograd: return true;
    case ConvAlgo::kiln_winograd: return false;
    case ConvAlgo::automatic: return C >= 32 && OC >= 32;
  }
  return false;
}

// ConvAlgo::automatic's rule for Kiln's own Winograd, where oneDNN's is not
// used (no AVX-512, or fewer than 32 channels). Timed on ResNet18's 3x3
// stride-1 layers at --fuse=all under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN 2.6,
// Zen 4, 2 threads), median ms per layer, oneDNN's direct vs Kiln's, and the
// 4x4 output tiles per image:
//   C = OC  H x W  tiles  batch 1        batch 2        batch 10
//   64      56x56  196    1.11 vs 0.53   2.28 vs 1.12   11.2 vs 5.1
//   128     28x28   49    1.12 vs 0.58   2.30 vs 1.13   11.2 vs 4.3
//   256     14x14   16    1.14 vs 0.88   2.35 vs 1.61   11.2 vs 5.5
//   512      7x7     4    1.32 vs 1.56   2.75 vs 2.45   12.0 vs 5.8
// Its transformed weights are 4x the size of the direct kernel's and each
// tile uses them once, so with few tiles it streams weights more than it
// computes: it loses only at 512 channels, batch 1 (4 tiles). So: from 8
// tiles (N * ceil(OH/4) * ceil(OW/4)), and from 32 channels as oneDNN's rule
// (fewer were not measured).
static bool kiln_winograd_pays(int64_t C, int64_t OC, int64_t tiles) {
  return C >= 32 && OC >= 32 && tiles >= 8;
}

// ConvAlgo::automatic where both Winograd kernels exist (AVX-512): the same
// layers, oneDNN's Winograd vs Kiln's, median ms (the tiles are per batch):
//   C = OC  batch 1: tiles  oneDNN  Kiln    batch 10: tiles  oneDNN  Kiln
//   64                196   0.46    0.47              1960   3.55    3.98
//   128                49   0.47    0.44               490   3.28    2.65
//   256                16   0.48    0.61               160   3.41    3.28
//   512                 4   0.70    1.15                40   4.20    3.31
// Kiln's wins from 128 channels once there are a few dozen tiles; oneDNN's
// keeps the 64-channel layers and the small batches of the deep ones.
static bool kiln_winograd_beats_onednn(int64_t C, int64_t OC, int64_t tiles) {
  return C >= 128 && OC >= 128 && tiles >= 32;
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
  const auto prop = dnnl::prop_kind::forward_inference;
  dnnl::convolution_forward::desc desc =
      bias ? dnnl::convolution_forward::desc(prop, alg, src, wei, any({OC}), dst, strides,
                                             dilates, pad, pad)
           : dnnl::convolution_forward::desc(prop, alg, src, wei, dst, strides, dilates, pad,
                                             pad);
  return dnnl::convolution_forward::primitive_desc(desc, make_attr(post_ops), ctx.engine);
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

Conv2dPrimitive build_conv2d(const ir::Node& node, const CompileContext& ctx,
                             const dnnl::post_ops& post_ops) {
  Conv2dAttrs a = read_attrs(node);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Tensor& weight = *node.inputs[1]->data;
  const ir::Tensor* bias = node.inputs.size() == 3 ? node.inputs[2]->data.get() : nullptr;
  const int64_t C = x[1], OC = weight.shape[0], G = a.groups;
  const int64_t KH = weight.shape[2], KW = weight.shape[3];
  ir::Shape w_shape = G == 1 ? ir::Shape{OC, C, KH, KW} : ir::Shape{G, OC / G, C / G, KH, KW};

  Conv2dPrimitive conv;
  // Where oneDNN has no Winograd kernel (CPU, post-ops), direct below.
  if (use_onednn_winograd(ctx.conv_algo, a, C, OC, KH, KW))
    conv.pd = conv2d_pd(node, ctx, post_ops, dnnl::algorithm::convolution_winograd);
  return with_node(node, [&]() -> Conv2dPrimitive {
    if (!conv.pd) conv.pd = make_pd(node, ctx, post_ops, dnnl::algorithm::convolution_direct);
    pack_param(conv.constants, DNNL_ARG_WEIGHTS, weight, conv.pd.weights_desc(), w_shape);
    if (bias) pack_param(conv.constants, DNNL_ARG_BIAS, *bias, conv.pd.bias_desc());
    return conv;
  });
}

std::unique_ptr<Kernel> compile_conv2d_kiln_winograd(const ir::Node& node,
                                                     const CompileContext& ctx,
                                                     const dnnl::post_ops& post_ops,
                                                     WinogradEpilogue epilogue) {
  Conv2dAttrs a = read_attrs(node);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  const ir::Shape y = conv2d_output_shape(node);
  const int64_t N = x[0], C = x[1], OC = w[0], KH = w[2], KW = w[3];
  if (!winograd_shape(a, KH, KW)) return nullptr;
  // Its epilogue applies relu only; any other activation runs on oneDNN.
  if (a.activation != "none" && a.activation != "relu") return nullptr;
  auto onednn_has_winograd = [&] {
    return static_cast<bool>(
        conv2d_pd(node, ctx, post_ops, dnnl::algorithm::convolution_winograd));
  };
  switch (ctx.conv_algo) {
    case ConvAlgo::direct:
      return nullptr;
    case ConvAlgo::winograd:
      if (onednn_has_winograd()) return nullptr;
      break;
    case ConvAlgo::kiln_winograd:
      break;
    case ConvAlgo::automatic: {
      const int64_t tiles = N * ((y[2] + 3) / 4) * ((y[3] + 3) / 4);
      if (use_onednn_winograd(ctx.conv_algo, a, C, OC, KH, KW) && onednn_has_winograd()) {
        if (!kiln_winograd_beats_onednn(C, OC, tiles)) return nullptr;
      } else if (!kiln_winograd_pays(C, OC, tiles)) {
        return nullptr;
      }
      break;
    }
  }
  return with_node(node, [&] { return compile_winograd_conv(node, ctx, epilogue); });
}

std::unique_ptr<Kernel> compile_conv2d(const ir::Node& node, const CompileContext& ctx,
                                       const dnnl::post_ops& post_ops) {
  Conv2dPrimitive conv = build_conv2d(node, ctx, post_ops);
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const auto& pd = conv.pd;
    return std::make_unique<PrimitiveKernel>(
        dnnl::convolution_forward(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, pd.src_desc()}}, pd.dst_desc(),
        pd.scratchpad_desc(), std::move(conv.constants));
  });
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
  if (auto kernel = compile_conv2d_kiln_winograd(node, ctx, post_ops, epilogue)) return kernel;
  return compile_conv2d(node, ctx, post_ops);
}

void register_conv2d(Registry& r) {
  r.add({"conv2d", {2, 3, validate_conv2d, conv2d_output_shape}, compile});
}

}  // namespace kiln::ops
