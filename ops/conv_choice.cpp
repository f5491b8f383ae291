// choose_conv_algo: one decision per convolution node, with its reason.
//
// Winograd computes 3x3, stride-1, dilation-1, ungrouped convs; the rest run
// direct whatever conv_algo says. For those it does compute:
//   direct         direct
//   winograd       oneDNN's where it has one for the node (AVX-512, and
//                  post-ops it supports), else Kiln's, else direct
//   kiln_winograd  Kiln's, else direct
//   auto           as `tune` timed the layer on this CPU, if it did and that
//                  kernel still runs it; else by the rules below, measured on
//                  ResNet18's layers
//   tune           not here: conv_candidates() lists the kernels, and
//                  compile_conv_tuned (ops/conv_tune.h) times them
// Kiln's kernel runs where the CPU has AVX2 (vector width 8) or AVX-512 (16),
// both channel counts are multiples of that width, the activation is none or
// relu, and oneDNN's direct convolution would use a layout it reads.
#include "ops/conv_choice.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ops/common.h"
#include "ops/conv2d.h"
#include "ops/conv_tune.h"
#include "ops/winograd.h"

namespace kiln::ops {

namespace {

using dnnl::algorithm;

// "2" for {2, 2}, "2x1" for {2, 1}.
std::string pair_str(const std::vector<int64_t>& v) {
  return v[0] == v[1] ? std::to_string(v[0]) : std::to_string(v[0]) + "x" + std::to_string(v[1]);
}

// Why Winograd does not compute this conv with weight shape `w`, or "" if it does.
std::string not_winograd_shape(const ir::Node& node, const ir::Shape& w) {
  const std::vector<int64_t> one = {1, 1};
  const std::vector<int64_t> stride = ir::attr_ints(node, "stride", one);
  const std::vector<int64_t> dilation = ir::attr_ints(node, "dilation", one);
  const int64_t groups = ir::attr_int(node, "groups", 1);
  if (w[2] != 3 || w[3] != 3) return std::to_string(w[2]) + "x" + std::to_string(w[3]) + " kernel";
  if (stride != one) return "stride " + pair_str(stride);
  if (dilation != one) return "dilation " + pair_str(dilation);
  if (groups != 1) return std::to_string(groups) + " groups";
  return "";
}

// Whether `node` is a conv Winograd could compute: conv2d, or conv2d_add,
// whose weight follows the residual.
bool winograd_conv(const ir::Node& node) {
  const ir::Value* weight = conv_weight(node);
  return weight && not_winograd_shape(node, weight->shape).empty();
}

// ConvAlgo::auto_'s rule for oneDNN's Winograd (F(2x2, 3x3) or F(4x4,
// 3x3)), from timing both algorithms on square 3x3 stride-1 convs, C = OC
// from 8 to 512, H = W from 7 to 112, batch 1 and 10 (oneDNN 2.6, AVX-512
// Zen 4): Winograd took 0.32-0.88x the direct time from 32 channels up,
// 0.73-0.96x at 16, and 1.06-1.87x at 8. So: 32 and up.
bool onednn_winograd_pays(int64_t C, int64_t OC) { return C >= 32 && OC >= 32; }

// ConvAlgo::auto_'s rule for Kiln's own Winograd, where oneDNN's is not
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
bool kiln_winograd_pays(int64_t C, int64_t OC, int64_t tiles) {
  return C >= 32 && OC >= 32 && tiles >= 8;
}

// ConvAlgo::auto_ where both Winograd kernels exist (AVX-512): chains of
// three or four C -> C 3x3 convs with relu (as ResNet's stages), Kiln's
// Winograd / oneDNN's, the median of 4 alternating rounds of bench/ab.py
// (oneDNN 2.6, Zen 5 EPYC, 2 threads), and the 4x4 output tiles per conv:
//   C = OC  H x W  batch 1 (tiles)  batch 2       batch 10
//   64      56x56  0.89x (196)      1.03x (392)   0.97x (1960)
//   128     28x28  1.03x (49)       0.83x (98)    0.94x (490)
//   256     14x14  1.26x (16)       0.85x (32)    0.90x (160)
//   512      7x7   1.26x (4)        0.98x (8)     0.70x (40)
// Kiln's wins from 64 channels once there are a few dozen tiles; oneDNN's
// keeps the small batches of the deep layers. In whole models, against the
// same rule from 128 channels (7 rounds, batch 1 / 10): ResNet-18 0.94x /
// 0.97x, ResNet-34 0.99x / 0.96x: Kiln's keeps the direct kernel's nhwc, so
// the reorders around the 64-channel stage go too. (This implies
// kiln_winograd_pays, so where it holds Kiln's runs whether or not oneDNN
// has a Winograd kernel.)
bool kiln_winograd_beats_onednn(int64_t C, int64_t OC, int64_t tiles) {
  return C >= 64 && OC >= 64 && tiles >= 32;
}

// Below 32 tiles the rule above leaves oneDNN's Winograd, which is one of two
// kernels: F(2x2, 3x3) (jit_fp32_wino_2x3, for little work) or F(4x4, 3x3)
// (jit_wino_4x3, from a few images). Chains of three 3x3 convs with relu
// (C -> OC then OC -> OC, nhwc neighbours), Kiln's / oneDNN's Winograd,
// bench/ab.py 4 rounds (oneDNN 2.6, Zen 5 EPYC, 2 threads), where oneDNN ran
// its F(4x4) below 32 tiles (N * ceil(OH/4) * ceil(OW/4)):
//   C -> OC      H x W  batch: ratio (tiles)
//   64 -> 64      7x7   4: 0.68x (16)
//   128 -> 128    7x7   4: 0.93x (16)
//   160 -> 320    7x7   4: 0.61x (16)
//   256 -> 256    7x7   4: 0.65x (16)
//   384 -> 384    7x7   4: 0.60x (16)
//   512 -> 512    7x7   3: 0.44x (12)   4: 0.46x (16)   5: 0.53x (20)   6: 0.64x (24)
//   1024 -> 1024  7x7   4: 0.52x (16)
// and wherever it ran its F(4x4) at 32 tiles and more 0.64-1.01x (7x7 to
// 28x28, batch 1 to 10). Where oneDNN ran its F(2x2), Kiln's lost most 7x7
// layers of 160 channels and more (1.18-1.74x at batch 1 and 2) and won
// others (14x14 at batch 1: 128 -> 128 0.92x, 96 -> 208 0.40x). So from 64
// channels Kiln's F(4x4) replaces oneDNN's F(4x4), never its F(2x2).
// (oneDNN's F(4x4) also reorders in and out of its blocked layout, which
// Kiln's, reading the direct kernel's nhwc, does not.)
bool onednn_winograd_is_f2x2(const dnnl::convolution_forward::primitive_desc& pd) {
  return std::string(pd.impl_info_str()).find("wino_2x3") != std::string::npos;
}

// The same where the convs are blocked (CompileContext::blocked_convs,
// ops/conv_layout.h): oneDNN's direct kernel and Winograd then share nChw16c,
// so oneDNN's is never alone in its layout and the choice is the kernels'
// own speed. Timed by `tune` on the 3x3 stride-1 layers of GoogLeNet,
// DenseNet-121, ResNet-18 and ResNet-50 with blocked neighbours (oneDNN 2.6,
// AVX-512 EPYC, 2 threads), median ms, oneDNN's vs Kiln's:
//   C -> OC      batch 1: tiles  oneDNN  Kiln    batch 10: tiles  oneDNN  Kiln
//   64 -> 64            196     0.31    0.33              1960   3.24    3.35
//   64 -> 192           196     0.96    0.80              1960   9.04    7.24
//   96 -> 128            49     0.20    0.29               490   2.33    1.85
//   96 -> 208            16     0.35    0.10               160   1.16    1.00
//   128 -> 32            49     0.08    0.10               490   1.39    1.04
//   128 -> 128           49     0.31    0.36               490   3.04    2.29
//   128 -> 192           49     0.47    0.43               490   4.09    3.43
//   160 -> 320            4     0.12    0.09                40   0.91    0.78
//   256 -> 256           16     0.37    0.42               160   3.18    2.99
//   512 -> 512            4     0.56    1.02                40   4.37    3.20
// Kiln's wins every layer from 96 channels in a batch of 10, and the layers
// that widen 1.5x or more from 64 channels at either batch (oneDNN's picks its
// slower F(2x2, 3x3) kernel for most of those); oneDNN's keeps the rest of
// batch 1 and the 64-channel layers. (oneDNN's direct nChw16c kernel lost to
// both Winograds everywhere but on 7x7 maps with 32 to 48 input channels.)
bool kiln_winograd_beats_onednn_blocked(int64_t N, int64_t C, int64_t OC, int64_t tiles) {
  if (!kiln_winograd_pays(C, OC, tiles)) return false;
  return (C >= 64 && 2 * OC >= 3 * C) || (N >= 2 && C >= 96 && tiles >= 40);
}

// One decision under way: the node, its sizes and the descriptors built so far.
class Chooser {
 public:
  Chooser(const ir::Node& node, const CompileContext& ctx, const dnnl::post_ops& post_ops,
          bool epilogue_fits)
      : node_(node), ctx_(ctx), post_ops_(post_ops), epilogue_fits_(epilogue_fits) {
    const ir::Shape y = conv2d_output_shape(node);
    C_ = node.inputs[0]->shape[1];
    OC_ = y[1];
    tiles_ = y[0] * ((y[2] + 3) / 4) * ((y[3] + 3) / 4);
  }

  ConvChoice choose() {
    if (ctx_.conv_algo == ConvAlgo::direct) return direct("conv algorithm direct");
    const std::string shape = not_winograd_shape(node_, node_.inputs[1]->shape);
    if (!shape.empty()) return direct(shape);
    switch (ctx_.conv_algo) {
      case ConvAlgo::direct:
        break;
      case ConvAlgo::winograd:
        if (onednn_winograd()) return choice(ConvKernel::onednn_winograd, "3x3 stride 1");
        if (kiln_winograd())
          return choice(ConvKernel::kiln_winograd,
                        "3x3 stride 1, oneDNN has no Winograd for it on this CPU");
        return direct(kiln_refusal_);
      case ConvAlgo::kiln_winograd:
        if (kiln_winograd()) return choice(ConvKernel::kiln_winograd, "3x3 stride 1");
        return direct(kiln_refusal_);
      case ConvAlgo::auto_:
      case ConvAlgo::tune:  // compile_conv_tuned asks conv_candidates(); auto's rules otherwise
        return choose_auto();
    }
    return direct("conv algorithm direct");
  }

  std::vector<ConvChoice> candidates() {
    const std::string shape = not_winograd_shape(node_, node_.inputs[1]->shape);
    if (!shape.empty()) return {direct(shape)};
    std::vector<ConvChoice> out;
    if (onednn_winograd()) out.push_back(choice(ConvKernel::onednn_winograd, "3x3 stride 1"));
    if (kiln_winograd()) out.push_back(choice(ConvKernel::kiln_winograd, "3x3 stride 1"));
    if (out.empty()) return {direct(kiln_refusal_ + ", and oneDNN has no Winograd for it")};
    out.insert(out.begin(), direct("3x3 stride 1"));
    return out;
  }

 private:
  ConvChoice choose_auto() {
    if (std::optional<ConvChoice> tuned = choose_tuned()) return *tuned;
    const std::string sizes = std::to_string(C_) + " -> " + std::to_string(OC_) + " channels, " +
                              std::to_string(tiles_) + " tiles";
    const bool kiln_first =
        ctx_.blocked_convs
            ? kiln_winograd_beats_onednn_blocked(node_.inputs[0]->shape[0], C_, OC_, tiles_)
            : kiln_winograd_beats_onednn(C_, OC_, tiles_);
    if (kiln_first && kiln_winograd()) {
      const char* rule = ctx_.blocked_convs
                             ? " (blocked: Kiln's where it widens 1.5x from 64 channels, and "
                               "from 96 channels and 40 tiles in a batch)"
                             : " (Kiln's from 64 channels and 32 tiles)";
      return choice(ConvKernel::kiln_winograd, "auto: " + sizes + rule);
    }
    if (onednn_winograd_pays(C_, OC_) && onednn_winograd()) {
      if (alone_in_onednn_winograd_layout()) {
        const std::string alone = " (oneDNN's would reorder in and out: no Winograd conv next to it)";
        if (tiles_ >= 32 && kiln_winograd())
          return choice(ConvKernel::kiln_winograd, "auto: " + sizes + alone);
        return direct("auto: " + sizes + alone);
      }
      if (!ctx_.blocked_convs && C_ >= 64 && OC_ >= 64 && !onednn_winograd_is_f2x2(pd_) &&
          kiln_winograd())
        return choice(ConvKernel::kiln_winograd,
                      "auto: " + sizes + " (Kiln's F(4x4) instead of oneDNN's from 64 channels)");
      return choice(ConvKernel::onednn_winograd,
                    "auto: " + sizes +
                        (ctx_.blocked_convs ? " (blocked: oneDNN's from 32 channels)"
                                            : " (oneDNN's from 32 channels, Kiln's from 64)"));
    }
    if (!kiln_winograd_pays(C_, OC_, tiles_))
      return direct("auto: " + sizes + " (Winograd from 32 channels and 8 tiles)");
    if (kiln_winograd())
      return choice(ConvKernel::kiln_winograd,
                    "auto: " + sizes + ", oneDNN has no Winograd for it on this CPU");
    return direct(kiln_refusal_);
  }

  // Whether oneDNN's Winograd (pd_) would be alone in its blocked layout: the
  // input arrives in another layout and no consumer is a conv Winograd could
  // compute, so it costs a reorder in and one out. Kiln's reads and writes the
  // direct kernel's layout. Such a layer, a 3x3 between 1x1 convs or concats
  // (DenseNet, GoogLeNet, ResNet-50's bottlenecks), takes Kiln's once there
  // are a few dozen tiles: the reorders of densenet121's 58 3x3 convs
  // (128 -> 32 channels) took 17 ms of 200 at batch 10, the convs as long
  // under either kernel (oneDNN 2.6, Zen 4). With fewer tiles it runs
  // direct: Kiln's is slow there (512 channels, 7x7: 1.2 vs 0.7 ms), and
  // GoogLeNet's lone 14x14 and 7x7 layers at batch 1 took 0.19-0.42 ms
  // direct against 0.24-0.59 ms under oneDNN's, reorders apart; googlenet
  // 0.87x the time at batch 1, densenet121 0.96x, resnet50 1.01x.
  bool alone_in_onednn_winograd_layout() const {
    if (ctx_.input_descs.empty() || ctx_.input_descs[0] == pd_.src_desc()) return false;
    const std::vector<ir::Node*>& users = node_.output->users;
    return std::none_of(users.begin(), users.end(),
                        [](const ir::Node* user) { return winograd_conv(*user); });
  }

  // The kernel `tune` found fastest for this layer on this CPU, if it timed
  // the layer and that kernel still runs it.
  std::optional<ConvChoice> choose_tuned() {
    if (!ctx_.conv_tunings) return std::nullopt;
    auto it = ctx_.conv_tunings->find(conv_signature(node_, post_ops_, ctx_.blocked_convs));
    if (it == ctx_.conv_tunings->end()) return std::nullopt;
    const std::string why = "auto: tuned on this CPU, " + it->second.str();
    switch (it->second.fastest()) {
      case ConvKernel::direct:
        return direct(why);
      case ConvKernel::onednn_winograd:
        if (onednn_winograd()) return choice(ConvKernel::onednn_winograd, why);
        break;
      case ConvKernel::kiln_winograd:
        if (kiln_winograd()) return choice(ConvKernel::kiln_winograd, why);
        break;
    }
    return std::nullopt;
  }

  // Whether oneDNN has a Winograd kernel for the node with its post-ops; if
  // so, pd_ holds it.
  bool onednn_winograd() {
    pd_ = conv2d_pd(node_, ctx_, post_ops_, algorithm::convolution_winograd);
    return static_cast<bool>(pd_);
  }

  // Whether Kiln's Winograd runs the node; if so, pd_ holds oneDNN's direct
  // convolution without post-ops (its layouts), else kiln_refusal_ says why.
  // Tried at most once.
  bool kiln_winograd() {
    if (!kiln_refusal_.empty()) return false;
    kiln_refusal_ = why_not_kiln_winograd();
    return kiln_refusal_.empty();
  }

  std::string why_not_kiln_winograd() {
    if (!epilogue_fits_) return "Kiln's Winograd epilogue does relu only";
    const int64_t W = winograd_vector_width();
    if (W == 0) return "Kiln's Winograd needs AVX2 and FMA";
    if (C_ % W != 0 || OC_ % W != 0)
      return std::to_string(C_) + " -> " + std::to_string(OC_) +
             " channels, Kiln's Winograd needs multiples of " + std::to_string(W);
    dnnl::convolution_forward::primitive_desc layouts =
        conv2d_pd(node_, ctx_, dnnl::post_ops(), algorithm::convolution_direct);
    if (layouts && winograd_reads(layouts.src_desc()) && winograd_reads(layouts.dst_desc())) {
      pd_ = layouts;
      return "";
    }
    // Without post-ops that is also the direct convolution direct() needs.
    if (layouts && post_ops_.len() == 0) direct_pd_ = layouts;
    return "oneDNN's direct layout is not one Kiln's Winograd reads";
  }

  ConvChoice choice(ConvKernel kernel, const std::string& why) {
    return {kernel, std::string(conv_kernel_name(kernel)) + ": " + why, pd_};
  }

  ConvChoice direct(const std::string& why) {
    ConvChoice c{ConvKernel::direct, "direct: " + why, direct_pd_};
    if (!c.pd) {
      c.pd = with_node(node_, [&] {
        dnnl::convolution_forward::primitive_desc pd =
            conv2d_pd(node_, ctx_, post_ops_, algorithm::convolution_direct);
        if (!pd) throw dnnl::error(dnnl_unimplemented, "no direct convolution for this node");
        return pd;
      });
    }
    return c;
  }

  const ir::Node& node_;
  const CompileContext& ctx_;
  const dnnl::post_ops& post_ops_;
  bool epilogue_fits_;
  int64_t C_ = 0, OC_ = 0, tiles_ = 0;
  dnnl::convolution_forward::primitive_desc pd_, direct_pd_;
  std::string kiln_refusal_;  // why Kiln's Winograd does not run; empty: not tried or it runs
};

}  // namespace

ConvChoice choose_conv_algo(const ir::Node& conv_node, const CompileContext& ctx,
                            const dnnl::post_ops& post_ops, bool epilogue_fits) {
  return Chooser(conv_node, ctx, post_ops, epilogue_fits).choose();
}

std::vector<ConvChoice> conv_candidates(const ir::Node& conv_node, const CompileContext& ctx,
                                        const dnnl::post_ops& post_ops, bool epilogue_fits) {
  return Chooser(conv_node, ctx, post_ops, epilogue_fits).candidates();
}

}  // namespace kiln::ops
