// Kiln's own Winograd F(4x4, 3x3) kernel (ops/winograd.h) against the double
// reference: odd spatial sizes (partial 4x4 tiles), padding 0 to 2, batch 1
// and 3, bias or not, relu, conv2d_add in place and reading the residual;
// the convs it does not compute fall back to oneDNN's direct kernel.
//
// The kernel's vector width is the CPU's (8 with AVX2, 16 with AVX-512), and
// it needs both channel counts to be multiples of it; the cases use multiples
// of 16, so they run Kiln's kernel on either, and one case of 8 and 24
// channels checks both outcomes. Without AVX2 there is no such kernel: the
// cases that expect it skip with a message (tests/isa.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/engine/temp_cache.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct WinoCase {
  const char* name;
  int64_t n, c, oc, h, w, pad;
  bool bias;
  bool relu;
};

const WinoCase kCases[] = {
    {"N=1,C=16,OC=16,H=W=7,P=1,bias", 1, 16, 16, 7, 7, 1, true, false},
    {"N=3,C=16,OC=32,H=W=9,P=1,relu", 3, 16, 32, 9, 9, 1, false, true},
    {"N=1,C=64,OC=32,H=W=14,P=0", 1, 64, 32, 14, 14, 0, false, false},
    {"N=3,C=32,OC=64,H=13,W=17,P=1,bias,relu", 3, 32, 64, 13, 17, 1, true, true},
    {"N=1,C=128,OC=128,H=13,W=17,P=0,bias", 1, 128, 128, 13, 17, 0, true, false},
    {"N=3,C=48,OC=16,H=5,W=6,P=2,bias", 3, 48, 16, 5, 6, 2, true, false},
    {"N=1,C=16,OC=48,H=W=3,P=0 (one output pixel)", 1, 16, 48, 3, 3, 0, true, true},
    {"N=1,C=512,OC=512,H=W=7,P=1,bias", 1, 512, 512, 7, 7, 1, true, false},
    // 7 channel blocks of 16: the AVX-512 micro-kernel's 4, then 2, then 1.
    {"N=2,C=32,OC=112,H=W=10,P=1,bias,relu", 2, 32, 112, 10, 10, 1, true, true},
};

bool is_kiln_winograd(const std::string& impl) {
  return impl.rfind("kiln:wino_4x4:", 0) == 0;
}

// The implementation of the plan's step for `op`.
std::string impl_of(const engine::Plan& plan, const std::string& op) {
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op == op) return step.implementation;
  }
  FAIL("the plan has no " << op << " step");
  return "";
}

// y = conv2d(x) with the attributes given, weights and bias seeded.
ir::Graph conv_graph(const ir::Shape& x_shape, const ir::Shape& w_shape, bool bias,
                     const ir::Attrs& attrs, uint64_t seed) {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, x_shape[1], x_shape[2], x_shape[3]});
  std::vector<ir::Value*> inputs = {x, g.add_param("w", random_tensor(w_shape, seed))};
  if (bias) inputs.push_back(g.add_param("b", random_tensor({w_shape[0]}, seed + 1)));
  ir::Node* conv = g.add_node("conv", "conv2d", inputs, attrs);
  g.set_outputs({conv->output});
  ir::infer_shapes(g, ops::registry().schemas());
  return g;
}

RefTensor conv_reference(const ir::Graph& g, const ir::Tensor& x, std::vector<int64_t> stride,
                         std::vector<int64_t> pad, int64_t groups, bool relu) {
  const ir::Node* conv = g.find_node("conv");
  const bool bias = conv->inputs.size() == 3;
  RefTensor b = bias ? to_ref(*conv->inputs[2]->data) : RefTensor{};
  RefTensor y = ref_conv2d(to_ref(x), to_ref(*conv->inputs[1]->data), bias ? &b : nullptr, stride,
                           pad, {1, 1}, groups);
  return relu ? ref_relu(y) : y;
}

ir::Attrs case_attrs(const WinoCase& c) {
  return {{"padding", std::vector<int64_t>{c.pad, c.pad}},
          {"activation", std::string(c.relu ? "relu" : "none")}};
}

// y = conv2d_add(x, r) for a case; with `residual_is_output` r is also a
// graph output, so the kernel reads it instead of overwriting it.
ir::Graph conv_add_graph(const WinoCase& c, bool residual_is_output, uint64_t seed) {
  const int64_t oh = c.h + 2 * c.pad - 2, ow = c.w + 2 * c.pad - 2;
  ir::Tensor bias = random_tensor({c.oc}, seed + 1);
  return conv2d_add_graph({c.n, c.c, c.h, c.w}, {c.n, c.oc, oh, ow},
                          random_tensor({c.oc, c.c, 3, 3}, seed), c.bias ? &bias : nullptr,
                          case_attrs(c), residual_is_output);
}

void check_conv_add(bool residual_is_output, int expected_inplace) {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  uint64_t seed = 700;
  for (const WinoCase& c : kCases) {
    INFO(std::string(c.name));
    ir::Graph g = conv_add_graph(c, residual_is_output, ++seed);
    ir::Tensor x = random_tensor({c.n, c.c, c.h, c.w}, ++seed);
    ir::Tensor r = random_tensor({c.n, c.oc, c.h + 2 * c.pad - 2, c.w + 2 * c.pad - 2}, ++seed);
    engine::Plan plan = engine::compile(g, c.n, {ops::ConvAlgo::kiln_winograd});
    CHECK(is_kiln_winograd(impl_of(plan, "conv2d_add")));
    int inplace = -2;
    for (const engine::StepInfo& step : plan.steps()) {
      if (step.op == "conv2d_add") inplace = step.inplace_input;
    }
    CHECK(inplace == expected_inplace);
    engine::Context ctx(plan);
    std::vector<ir::Tensor> got = ctx.run({x, r});
    got = ctx.run({x, r});  // a second run must not see the first one's residual

    const ir::Node* node = g.find_node("conv");
    RefTensor b = c.bias ? to_ref(*node->inputs[3]->data) : RefTensor{};
    RefTensor want = ref_conv2d(to_ref(x), to_ref(*node->inputs[2]->data), c.bias ? &b : nullptr,
                                {1, 1}, {c.pad, c.pad}, {1, 1}, 1);
    want = ref_add(want, to_ref(r));
    if (c.relu) want = ref_relu(want);
    check_close(got[0], want, 1e-4);
    if (residual_is_output) CHECK(got[1].data == r.data);
  }
}

}  // namespace

// Skips without AVX2 (tests/isa.h), as do the cases below that expect Kiln's kernel.
TEST_CASE("kiln_winograd conv2d matches the reference on odd sizes, padding, batch, bias, relu") {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  uint64_t seed = 500;
  for (const WinoCase& c : kCases) {
    INFO(std::string(c.name));
    ir::Graph g = conv_graph({c.n, c.c, c.h, c.w}, {c.oc, c.c, 3, 3}, c.bias, case_attrs(c), ++seed);
    ir::Tensor x = random_tensor({c.n, c.c, c.h, c.w}, ++seed);
    engine::Plan plan = engine::compile(g, c.n, {ops::ConvAlgo::kiln_winograd});
    std::string impl = impl_of(plan, "conv2d");
    INFO(impl);
    CHECK(is_kiln_winograd(impl));
    engine::Context ctx(plan);
    ir::Tensor y = ctx.run({x})[0];
    check_close(y, conv_reference(g, x, {1, 1}, {c.pad, c.pad}, 1, c.relu), 1e-4);
  }
}

TEST_CASE("kiln_winograd leaves a conv with an activation other than relu to oneDNN") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  // Kiln's epilogue applies relu only: the conv must run on oneDNN, with its post-ops.
  const ir::Attrs attrs = {{"padding", std::vector<int64_t>{1, 1}},
                           {"activation", std::string("hardswish")}};
  for (ops::ConvAlgo algo :
       {ops::ConvAlgo::kiln_winograd, ops::ConvAlgo::auto_, ops::ConvAlgo::tune}) {
    ir::Graph g = conv_graph({2, 64, 13, 17}, {64, 64, 3, 3}, true, attrs, 900);
    ir::Tensor x = random_tensor({2, 64, 13, 17}, 901);
    engine::Plan plan = engine::compile(g, 2, {algo});
    std::string impl = impl_of(plan, "conv2d");
    INFO(impl);
    CHECK_FALSE(is_kiln_winograd(impl));
    engine::Context ctx(plan);
    check_close(ctx.run({x})[0],
                ref_activation("hardswish", conv_reference(g, x, {1, 1}, {1, 1}, 1, false)), 1e-4);
  }
}

// Skips without AVX2.
TEST_CASE("kiln_winograd conv2d_add adds the residual in place when nothing reads it later") {
  check_conv_add(false, 1);
}

// Skips without AVX2.
TEST_CASE("kiln_winograd conv2d_add reads the residual as an input when it is read later") {
  check_conv_add(true, -1);
}

// Runs everywhere: without AVX2 the probe is direct too, and so is the case.
TEST_CASE("kiln_winograd runs 8 and 24 channels where its vector width is 8 (AVX2), else direct") {
  // The width shows in the implementation of a conv every width takes.
  ir::Graph probe = conv_graph({1, 16, 7, 7}, {16, 16, 3, 3}, false, {}, 60);
  const std::string width_probe =
      impl_of(engine::compile(probe, 1, {ops::ConvAlgo::kiln_winograd}), "conv2d");
  const bool avx2 = width_probe == "kiln:wino_4x4:avx2";
  const WinoCase c = {"N=2,C=8,OC=24,H=W=9,P=1,bias,relu", 2, 8, 24, 9, 9, 1, true, true};
  ir::Graph g = conv_graph({c.n, c.c, c.h, c.w}, {c.oc, c.c, 3, 3}, c.bias, case_attrs(c), 61);
  ir::Tensor x = random_tensor({c.n, c.c, c.h, c.w}, 62);
  engine::Plan plan = engine::compile(g, c.n, {ops::ConvAlgo::kiln_winograd});
  const std::string impl = impl_of(plan, "conv2d");
  INFO(width_probe << ", " << impl);
  CHECK(is_kiln_winograd(impl) == avx2);
  engine::Context ctx(plan);
  check_close(ctx.run({x})[0], conv_reference(g, x, {1, 1}, {1, 1}, 1, true), 1e-4);
}

TEST_CASE("kiln_winograd falls back to direct for strided, 1x1, grouped and odd-channel convs") {
  struct Fallback {
    const char* name;
    ir::Shape x, w;
    std::vector<int64_t> stride, pad;
    int64_t groups;
  };
  const Fallback cases[] = {
      {"stride 2", {1, 32, 9, 9}, {32, 32, 3, 3}, {2, 2}, {1, 1}, 1},
      {"1x1", {1, 32, 9, 9}, {32, 32, 1, 1}, {1, 1}, {0, 0}, 1},
      {"grouped", {1, 32, 9, 9}, {32, 16, 3, 3}, {1, 1}, {1, 1}, 2},
      {"C = 12", {1, 12, 9, 9}, {16, 12, 3, 3}, {1, 1}, {1, 1}, 1},
  };
  uint64_t seed = 900;
  for (const Fallback& c : cases) {
    INFO(std::string(c.name));
    ir::Attrs attrs = {{"stride", c.stride}, {"padding", c.pad}, {"groups", c.groups}};
    ir::Graph g = conv_graph(c.x, c.w, true, attrs, ++seed);
    ir::Tensor x = random_tensor(c.x, ++seed);
    engine::Plan plan = engine::compile(g, c.x[0], {ops::ConvAlgo::kiln_winograd});
    CHECK_FALSE(is_kiln_winograd(impl_of(plan, "conv2d")));
    engine::Context ctx(plan);
    check_close(ctx.run({x})[0], conv_reference(g, x, c.stride, c.pad, c.groups, false), 1e-5);
  }
}

// Skips without AVX2.
TEST_CASE("kiln_winograd keeps to the scratchpad it sized when the thread count changes") {
  // The scratchpad holds one slice per thread of compile time; execute never
  // runs more threads than that, and fewer work too.
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  const int threads = engine::max_threads();
  const WinoCase& c = kCases[4];
  ir::Graph g = conv_graph({c.n, c.c, c.h, c.w}, {c.oc, c.c, 3, 3}, c.bias, case_attrs(c), 70);
  ir::Tensor x = random_tensor({c.n, c.c, c.h, c.w}, 71);
  RefTensor want = conv_reference(g, x, {1, 1}, {c.pad, c.pad}, 1, c.relu);
  for (int compile_threads : {1, 4}) {
    for (int run_threads : {1, 4}) {
      CAPTURE(compile_threads);
      CAPTURE(run_threads);
      engine::set_threads(compile_threads);
      engine::Plan plan = engine::compile(g, c.n, {ops::ConvAlgo::kiln_winograd});
      engine::Context ctx(plan);
      engine::set_threads(run_threads);
      check_close(ctx.run({x})[0], want, 1e-4);
    }
  }
  engine::set_threads(threads);
}

TEST_CASE("every conv algorithm gives the reference's result on a kiln_winograd case") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  const WinoCase& c = kCases[3];
  ir::Graph g = conv_graph({c.n, c.c, c.h, c.w}, {c.oc, c.c, 3, 3}, c.bias, case_attrs(c), 42);
  ir::Tensor x = random_tensor({c.n, c.c, c.h, c.w}, 43);
  RefTensor want = conv_reference(g, x, {1, 1}, {c.pad, c.pad}, 1, c.relu);
  for (ops::ConvAlgo algo : {ops::ConvAlgo::direct, ops::ConvAlgo::winograd,
                             ops::ConvAlgo::kiln_winograd, ops::ConvAlgo::auto_,
                             ops::ConvAlgo::tune}) {
    engine::Plan plan = engine::compile(g, c.n, {algo});
    std::string impl = impl_of(plan, "conv2d");
    INFO(impl);
    if (algo == ops::ConvAlgo::direct) CHECK(impl.find("wino") == std::string::npos);
    // winograd: oneDNN's where the CPU has one, else Kiln's; never direct
    // where Kiln's can run.
    if (algo == ops::ConvAlgo::winograd && has_avx2())
      CHECK(impl.find("wino") != std::string::npos);
    engine::Context ctx(plan);
    check_close(ctx.run({x})[0], want, 1e-4);
  }
}

// Skips without AVX2.
TEST_CASE("ResNet18 fused at level all with kiln_winograd matches direct") {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  ir::Graph g = engine::load_model("resnet18", 3);
  engine::fuse(g, engine::FuseLevel::all);
  ir::Tensor x = random_tensor({2, 3, 224, 224}, 4);
  engine::Plan direct = engine::compile(g, 2, {ops::ConvAlgo::direct});
  engine::Plan kiln = engine::compile(g, 2, {ops::ConvAlgo::kiln_winograd});
  int kiln_steps = 0;
  for (const engine::StepInfo& step : kiln.steps())
    kiln_steps += is_kiln_winograd(step.implementation);
  // The 3x3 stride-1 convs: 4 in layer1, 3 in each of layers 2 to 4.
  CHECK(kiln_steps == 13);
  engine::Context direct_ctx(direct), kiln_ctx(kiln);
  ir::Tensor want = direct_ctx.run({x})[0];
  ir::Tensor got = kiln_ctx.run({x})[0];
  check_close(got, to_ref(want), 1e-4);
}
