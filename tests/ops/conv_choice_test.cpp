// choose_conv_algo: each choice and its reason, on the AVX-512 path (oneDNN
// has a Winograd kernel) and the AVX2 path (only Kiln's). Cases that need one
// path skip on the other with a message (tests/isa.h); ctest runs them all
// again under ONEDNN_MAX_CPU_ISA=AVX2 (tests/CMakeLists.txt), so both paths
// run on an AVX-512 machine.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ir/verify.h"
#include "ops/common.h"
#include "ops/conv2d.h"
#include "ops/conv_choice.h"
#include "ops/conv_tune.h"
#include "ops/registry.h"
#include "ops/winograd.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct ConvShape {
  int64_t n, c, oc, hw, k;
  std::vector<int64_t> stride = {1, 1}, dilation = {1, 1};
  int64_t groups = 1;
};

// y = relu(conv2d(x)) of that shape, padding 1, in `g`.
ir::Node* add_conv(ir::Graph& g, const ConvShape& s) {
  ir::Value* x = g.add_input("x", {s.n, s.c, s.hw, s.hw});
  ir::Node* conv = g.add_node(
      "conv", "conv2d", {x, g.add_param("w", random_tensor({s.oc, s.c / s.groups, s.k, s.k}, 1))},
      {{"padding", std::vector<int64_t>{1, 1}}, {"stride", s.stride}, {"dilation", s.dilation},
       {"groups", s.groups}, {"activation", std::string("relu")}});
  g.set_outputs({conv->output});
  ir::infer_shapes(g, ops::registry().schemas());
  return conv;
}

// The choice for that conv under `algo`; with `tuned`, CompileContext::conv_tunings
// holds it for the conv's signature (as `tune` would have stored it).
// With `blocked`, the convs are blocked (CompileContext::blocked_convs).
ops::ConvChoice choose(const ConvShape& s, ops::ConvAlgo algo, bool epilogue_fits = true,
                       const ops::ConvTuning* tuned = nullptr, bool blocked = false) {
  ir::Graph g;
  const ir::Node* conv = add_conv(g, s);
  const dnnl::post_ops post_ops = ops::activation_post_ops(*conv);
  ops::ConvTunings tunings;
  if (tuned) tunings[ops::conv_signature(*conv, post_ops, blocked)] = *tuned;
  ops::CompileContext ctx{ops::cpu_engine(), {}, {}, algo, &tunings};
  ctx.blocked_convs = blocked;
  return ops::choose_conv_algo(*conv, ctx, post_ops, epilogue_fits);
}

ops::ConvChoice choose_blocked(const ConvShape& s) {
  return choose(s, ops::ConvAlgo::auto_, true, nullptr, true);
}

// The kernels conv_candidates() lists for that conv.
std::vector<ops::ConvKernel> candidates(const ConvShape& s) {
  ir::Graph g;
  const ir::Node* conv = add_conv(g, s);
  ops::CompileContext ctx{ops::cpu_engine(), {}, {}, ops::ConvAlgo::tune};
  std::vector<ops::ConvKernel> kernels;
  for (const ops::ConvChoice& c :
       ops::conv_candidates(*conv, ctx, ops::activation_post_ops(*conv), true))
    kernels.push_back(c.kernel);
  return kernels;
}

// The reason, after checking the descriptor fits the kernel: oneDNN's
// Winograd for onednn_winograd, its direct convolution for the others (Kiln's
// Winograd takes the direct kernel's layouts).
std::string reason(const ops::ConvChoice& choice) {
  REQUIRE(choice.pd);
  const bool wino = std::string(choice.pd.impl_info_str()).find("wino") != std::string::npos;
  CHECK(wino == (choice.kernel == ops::ConvKernel::onednn_winograd));
  return choice.reason;
}

const ConvShape k64 = {1, 64, 64, 56, 3};  // 196 tiles of 4x4

}  // namespace

TEST_CASE("choose_conv_algo runs direct when asked for direct") {
  CHECK(reason(choose(k64, ops::ConvAlgo::direct)) == "direct: conv algorithm direct");
}

TEST_CASE("choose_conv_algo runs direct what Winograd does not compute, saying why") {
  for (ops::ConvAlgo algo :
       {ops::ConvAlgo::winograd, ops::ConvAlgo::kiln_winograd, ops::ConvAlgo::auto_}) {
    INFO(ops::conv_algo_name(algo));
    CHECK(reason(choose({1, 64, 64, 14, 1}, algo)) == "direct: 1x1 kernel");
    CHECK(reason(choose({1, 8, 8, 14, 7}, algo)) == "direct: 7x7 kernel");
    ConvShape strided = k64;
    strided.stride = {2, 2};
    CHECK(reason(choose(strided, algo)) == "direct: stride 2");
    strided.stride = {1, 2};
    CHECK(reason(choose(strided, algo)) == "direct: stride 1x2");
    ConvShape dilated = k64;
    dilated.dilation = {2, 2};
    CHECK(reason(choose(dilated, algo)) == "direct: dilation 2");
    ConvShape grouped = k64;
    grouped.groups = 4;
    CHECK(reason(choose(grouped, algo)) == "direct: 4 groups");
  }
}

TEST_CASE("choose_conv_algo refuses Kiln's Winograd for an activation other than relu") {
  CHECK(reason(choose(k64, ops::ConvAlgo::kiln_winograd, false)) ==
        "direct: Kiln's Winograd epilogue does relu only");
}

TEST_CASE("choose_conv_algo gives kiln-winograd Kiln's kernel where its vector width divides the channels") {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  const ops::ConvChoice c = choose(k64, ops::ConvAlgo::kiln_winograd);
  CHECK(c.kernel == ops::ConvKernel::kiln_winograd);
  CHECK(reason(c) == "kiln winograd: 3x3 stride 1");
  const std::string W = std::to_string(ops::winograd_vector_width());
  CHECK(reason(choose({1, 20, 40, 14, 3}, ops::ConvAlgo::kiln_winograd)) ==
        "direct: 20 -> 40 channels, Kiln's Winograd needs multiples of " + W);
}

TEST_CASE("choose_conv_algo says Kiln's Winograd needs AVX2 where there is none") {
  if (has_avx2()) {
    MESSAGE("skipped: this CPU has AVX2 (the case is for CPUs without it)");
    return;
  }
  CHECK(reason(choose(k64, ops::ConvAlgo::kiln_winograd)) ==
        "direct: Kiln's Winograd needs AVX2 and FMA");
}

TEST_CASE("choose_conv_algo runs auto direct below 32 channels, on any CPU") {
  CHECK(reason(choose({1, 16, 16, 56, 3}, ops::ConvAlgo::auto_)) ==
        "direct: auto: 16 -> 16 channels, 196 tiles (Winograd from 32 channels and 8 tiles)");
}

TEST_CASE("choose_conv_algo gives auto Kiln's Winograd from 64 channels and 32 tiles") {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  CHECK(reason(choose({1, 128, 128, 28, 3}, ops::ConvAlgo::auto_)) ==
        "kiln winograd: auto: 128 -> 128 channels, 49 tiles (Kiln's from 64 channels and 32 "
        "tiles)");
}

TEST_CASE("choose_conv_algo on AVX-512 takes oneDNN's Winograd for winograd and for auto's layers of few tiles or channels") {
  if (skip_without_avx512("oneDNN's Winograd kernel")) return;
  CHECK(reason(choose(k64, ops::ConvAlgo::winograd)) == "onednn winograd: 3x3 stride 1");
  CHECK(reason(choose(k64, ops::ConvAlgo::auto_)) ==
        "kiln winograd: auto: 64 -> 64 channels, 196 tiles (Kiln's from 64 channels and 32 "
        "tiles)");
  // Few tiles: Kiln's would not pay, oneDNN's still does.
  CHECK(reason(choose({1, 64, 64, 4, 3}, ops::ConvAlgo::auto_)) ==
        "onednn winograd: auto: 64 -> 64 channels, 1 tiles (oneDNN's from 32 channels, Kiln's "
        "from 64)");
  // Fewer than 64 channels: oneDNN's.
  CHECK(reason(choose({1, 32, 32, 56, 3}, ops::ConvAlgo::auto_)) ==
        "onednn winograd: auto: 32 -> 32 channels, 196 tiles (oneDNN's from 32 channels, Kiln's "
        "from 64)");
}

TEST_CASE("choose_conv_algo on AVX2 alone takes Kiln's Winograd for winograd and auto, direct for few tiles") {
  if (skip_unless_avx2_only("the path of CPUs without oneDNN's Winograd")) return;
  CHECK(reason(choose(k64, ops::ConvAlgo::winograd)) ==
        "kiln winograd: 3x3 stride 1, oneDNN has no Winograd for it on this CPU");
  CHECK(reason(choose({1, 32, 32, 56, 3}, ops::ConvAlgo::auto_)) ==
        "kiln winograd: auto: 32 -> 32 channels, 196 tiles, oneDNN has no Winograd for it on "
        "this CPU");
  CHECK(reason(choose({1, 64, 64, 4, 3}, ops::ConvAlgo::auto_)) ==
        "direct: auto: 64 -> 64 channels, 1 tiles (Winograd from 32 channels and 8 tiles)");
  CHECK(reason(choose({1, 20, 40, 14, 3}, ops::ConvAlgo::winograd)) ==
        "direct: 20 -> 40 channels, Kiln's Winograd needs multiples of 8");
}

TEST_CASE("conv_candidates lists direct, then each Winograd kernel that runs the conv") {
  using K = ops::ConvKernel;
  CHECK(candidates({1, 64, 64, 14, 1}) == std::vector<K>{K::direct});
  ConvShape strided = k64;
  strided.stride = {2, 2};
  CHECK(candidates(strided) == std::vector<K>{K::direct});
  const std::vector<K> odd = candidates({1, 20, 40, 14, 3});  // Kiln's needs multiples of 8 or 16
  REQUIRE_FALSE(odd.empty());
  CHECK(odd.front() == K::direct);
  CHECK(std::count(odd.begin(), odd.end(), K::kiln_winograd) == 0);
  std::vector<K> all = {K::direct};
  if (has_avx512()) all.push_back(K::onednn_winograd);
  if (has_avx2()) all.push_back(K::kiln_winograd);
  CHECK(candidates(k64) == all);
}

TEST_CASE("choose_conv_algo under auto follows the times tune stored for the layer") {
  ops::ConvTuning direct_fastest;
  direct_fastest.times = {{ops::ConvKernel::direct, 0.1}, {ops::ConvKernel::kiln_winograd, 0.25}};
  CHECK(reason(choose(k64, ops::ConvAlgo::auto_, true, &direct_fastest)) ==
        "direct: auto: tuned on this CPU, direct 0.1 ms, kiln winograd 0.25 ms");
  // Not for the other algorithms.
  CHECK(reason(choose(k64, ops::ConvAlgo::winograd, true, &direct_fastest)) !=
        reason(choose(k64, ops::ConvAlgo::auto_, true, &direct_fastest)));

  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  ops::ConvTuning kiln_fastest;
  kiln_fastest.times = {{ops::ConvKernel::direct, 0.5}, {ops::ConvKernel::kiln_winograd, 0.25}};
  const ops::ConvChoice c = choose(k64, ops::ConvAlgo::auto_, true, &kiln_fastest);
  CHECK(c.kernel == ops::ConvKernel::kiln_winograd);
  CHECK(reason(c) == "kiln winograd: auto: tuned on this CPU, direct 0.5 ms, kiln winograd 0.25 ms");
  // A stored kernel that does not run the conv now (Kiln's epilogue does relu
  // only): auto's rules decide.
  CHECK(reason(choose(k64, ops::ConvAlgo::auto_, false, &kiln_fastest)).find("tuned") ==
        std::string::npos);
}

namespace {

// auto's choice for a 32 -> 32 channel 3x3 conv (at hw x hw: oneDNN's Winograd
// pays, Kiln's does not beat it) when its input arrives in `input_layout` and
// its output feeds `next`: "conv2d" (a 3x3 conv), "conv2d_add" (a 3x3 conv
// adding the residual), "conv2d 1x1" or "none".
ops::ConvChoice choose_between(dnnl::memory::format_tag input_layout, const std::string& next,
                               int64_t hw = 56) {
  ir::Graph g;
  ConvShape shape = {1, 32, 32, hw, 3};
  ir::Node* conv = add_conv(g, shape);
  if (next != "none") {
    const int64_t k = next == "conv2d 1x1" ? 1 : 3;
    std::vector<ir::Value*> inputs = {conv->output};
    if (next == "conv2d_add") inputs.push_back(g.add_input("r", {1, 32, hw, hw}));
    inputs.push_back(g.add_param("w2", random_tensor({32, 32, k, k}, 2)));
    ir::Node* after = g.add_node("after", next == "conv2d_add" ? "conv2d_add" : "conv2d", inputs,
                                 {{"padding", std::vector<int64_t>{k / 2, k / 2}}});
    g.set_outputs({after->output});
    ir::infer_shapes(g, ops::registry().schemas());
  }
  const dnnl::post_ops post_ops = ops::activation_post_ops(*conv);
  const dnnl::memory::desc x({1, 32, hw, hw}, dnnl::memory::data_type::f32, input_layout);
  ops::CompileContext ctx{ops::cpu_engine(), {x}, {}, ops::ConvAlgo::auto_};
  return ops::choose_conv_algo(*conv, ctx, post_ops, true);
}

}  // namespace

TEST_CASE("choose_conv_algo under auto keeps oneDNN's Winograd out of a layer it would reorder around") {
  if (skip_without_avx512("oneDNN's Winograd kernel")) return;
  using tag = dnnl::memory::format_tag;
  const std::string alone =
      "kiln winograd: auto: 32 -> 32 channels, 196 tiles (oneDNN's would reorder in and out: "
      "no Winograd conv next to it)";
  const std::string onednn =
      "onednn winograd: auto: 32 -> 32 channels, 196 tiles (oneDNN's from 32 channels, Kiln's "
      "from 64)";
  // Input in nhwc, the output to a 1x1 conv or nowhere: Kiln's, which reads nhwc.
  CHECK(reason(choose_between(tag::nhwc, "conv2d 1x1")) == alone);
  CHECK(reason(choose_between(tag::nhwc, "none")) == alone);
  // A 3x3 conv next, which can share oneDNN's layout: oneDNN's (ResNet's chains).
  CHECK(reason(choose_between(tag::nhwc, "conv2d")) == onednn);
  CHECK(reason(choose_between(tag::nhwc, "conv2d_add")) == onednn);
  // The input already in oneDNN's Winograd layout: oneDNN's.
  CHECK(reason(choose_between(tag::nChw16c, "conv2d 1x1")) == onednn);
  // Alone with fewer than 32 tiles: direct, where Kiln's would be slow.
  CHECK(reason(choose_between(tag::nhwc, "conv2d 1x1", 14)) ==
        "direct: auto: 32 -> 32 channels, 16 tiles (oneDNN's would reorder in and out: no "
        "Winograd conv next to it)");
  CHECK(reason(choose_between(tag::nChw16c, "conv2d 1x1", 14)) ==
        "onednn winograd: auto: 32 -> 32 channels, 16 tiles (oneDNN's from 32 channels, Kiln's "
        "from 64)");
}

TEST_CASE("choose_conv_algo under auto takes Kiln's F(4x4) over oneDNN's, never over its F(2x2)") {
  if (skip_without_avx512("oneDNN's Winograd kernel")) return;
  // 512 -> 512 at 7x7: 4 tiles an image, below the 32-tile rule at batch 1
  // to 7. oneDNN picks its kernel by the work: F(2x2) for one image on the
  // CPUs seen so far, F(4x4) for four.
  int f4x4 = 0;
  for (int64_t n : {1, 4}) {
    const ConvShape s = {n, 512, 512, 7, 3};
    const std::string sizes = "512 -> 512 channels, " + std::to_string(4 * n) + " tiles";
    const std::string onednn_kernel = choose(s, ops::ConvAlgo::winograd).pd.impl_info_str();
    CAPTURE(onednn_kernel);
    if (onednn_kernel.find("wino_2x3") != std::string::npos) {
      CHECK(reason(choose(s, ops::ConvAlgo::auto_)) ==
            "onednn winograd: auto: " + sizes + " (oneDNN's from 32 channels, Kiln's from 64)");
    } else {
      ++f4x4;
      CHECK(reason(choose(s, ops::ConvAlgo::auto_)) ==
            "kiln winograd: auto: " + sizes +
                " (Kiln's F(4x4) instead of oneDNN's from 64 channels)");
      // With blocked neighbours oneDNN's shares their layout: its own rule.
      CHECK(choose_blocked(s).kernel == ops::ConvKernel::onednn_winograd);
    }
  }
  CHECK(f4x4 >= 1);  // four images are enough work for oneDNN's F(4x4)
  // Below 64 channels oneDNN's stays, whichever kernel it runs.
  CHECK(choose({8, 32, 32, 7, 3}, ops::ConvAlgo::auto_).kernel ==
        ops::ConvKernel::onednn_winograd);
}

TEST_CASE("choose_conv_algo under auto with blocked convs takes Kiln's for widening layers and big batches") {
  if (skip_without_avx512("oneDNN's Winograd kernel")) return;
  const std::string kiln_rule =
      " (blocked: Kiln's where it widens 1.5x from 64 channels, and from 96 channels and 40 "
      "tiles in a batch)";
  const std::string onednn_rule = " (blocked: oneDNN's from 32 channels)";
  // Widening 3x from 64 channels, batch 1: Kiln's.
  CHECK(reason(choose_blocked({1, 64, 192, 56, 3})) ==
        "kiln winograd: auto: 64 -> 192 channels, 196 tiles" + kiln_rule);
  // 64 -> 64: oneDNN's, at either batch.
  CHECK(reason(choose_blocked(k64)) == "onednn winograd: auto: 64 -> 64 channels, 196 tiles" +
                                           onednn_rule);
  CHECK(reason(choose_blocked({10, 64, 64, 56, 3})) ==
        "onednn winograd: auto: 64 -> 64 channels, 1960 tiles" + onednn_rule);
  // 128 -> 128 at 28x28: oneDNN's for one image (where the nhwc rule takes
  // Kiln's), Kiln's for ten.
  CHECK(reason(choose_blocked({1, 128, 128, 28, 3})) ==
        "onednn winograd: auto: 128 -> 128 channels, 49 tiles" + onednn_rule);
  CHECK(reason(choose_blocked({10, 128, 128, 28, 3})) ==
        "kiln winograd: auto: 128 -> 128 channels, 490 tiles" + kiln_rule);
  // Kiln's needs its vector width to divide the channels: oneDNN's then.
  CHECK(choose_blocked({10, 100, 200, 28, 3}).kernel == ops::ConvKernel::onednn_winograd);
}
