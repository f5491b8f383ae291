// CompileOptions::conv_algo: oneDNN's Winograd where it has one, Kiln's own
// (ops/winograd.h) where it has none or where asked for, direct elsewhere,
// and the same results either way. Kiln's needs AVX2: without it the checks
// that expect a Winograd kernel are skipped with a message (tests/isa.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/verify_fusion.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/engine/temp_cache.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

// y = relu(conv2d(x)) as one node with activation relu.
ir::Graph conv_graph(int64_t c, int64_t oc, int64_t stride, uint64_t seed) {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, c, 14, 14});
  ir::Node* conv = g.add_node(
      "conv", "conv2d",
      {x, g.add_param("w", random_tensor({oc, c, 3, 3}, seed)),
       g.add_param("b", random_tensor({oc}, seed + 1))},
      {{"padding", std::vector<int64_t>{1, 1}}, {"stride", std::vector<int64_t>{stride, stride}},
       {"activation", std::string("relu")}});
  g.set_outputs({conv->output});
  ir::infer_shapes(g, ops::registry().schemas());
  return g;
}

// The implementation oneDNN chose for the conv, and its output on `x`.
std::string conv_impl(const ir::Graph& g, const ir::Tensor& x, ops::ConvAlgo algo,
                      ir::Tensor* y) {
  engine::Plan plan = engine::compile(g, x.shape[0], {algo});
  engine::Context ctx(plan);
  *y = ctx.run({x})[0];
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op == "conv2d") return step.implementation;
  }
  FAIL("no conv2d step");
  return "";
}

bool is_winograd(const std::string& impl) { return impl.find("wino") != std::string::npos; }

// The output matches the reference: element by element (1e-4 of each, at
// least absolute) for oneDNN's kernels; for Kiln's Winograd, whose
// transforms scale by up to 8 before values cancel, within 1e-4 of the
// largest output (a few outputs near 1 stray by 1-2e-4 at 64 channels).
void check_output(const std::string& impl, const ir::Tensor& y, const RefTensor& want) {
  if (impl.rfind("kiln:wino", 0) == 0) {
    check_close(y, want, 1e-4);
    return;
  }
  std::string report;
  CHECK_MESSAGE(count_mismatches(y, want, 1e-4, report) == 0, report);
}

RefTensor reference(const ir::Graph& g, const ir::Tensor& x, int64_t stride) {
  const ir::Node* conv = g.find_node("conv");
  RefTensor b = to_ref(*conv->inputs[2]->data);
  return ref_relu(ref_conv2d(to_ref(x), to_ref(*conv->inputs[1]->data), &b, {stride, stride},
                             {1, 1}, {1, 1}, 1));
}

}  // namespace

TEST_CASE("a 3x3 stride-1 conv gives the reference's result with every conv algorithm") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  ir::Graph g = conv_graph(64, 64, 1, 1);
  ir::Tensor x = random_tensor({2, 64, 14, 14}, 3);
  RefTensor want = reference(g, x, 1);
  const bool winograd_runs = !skip_without_avx2("Kiln's Winograd kernel");  // the results are checked either way
  for (ops::ConvAlgo algo : {ops::ConvAlgo::direct, ops::ConvAlgo::winograd,
                             ops::ConvAlgo::kiln_winograd, ops::ConvAlgo::auto_,
                             ops::ConvAlgo::tune}) {
    ir::Tensor y;
    std::string impl = conv_impl(g, x, algo, &y);
    INFO(impl);
    if (algo == ops::ConvAlgo::direct) CHECK_FALSE(is_winograd(impl));
    // winograd: oneDNN's on AVX-512, Kiln's on AVX2; never direct for this conv.
    if (algo == ops::ConvAlgo::winograd && winograd_runs) CHECK(is_winograd(impl));
    if (algo == ops::ConvAlgo::kiln_winograd && winograd_runs)
      CHECK(impl.rfind("kiln:wino", 0) == 0);
    // 576 products per output; Winograd's transforms add a little rounding.
    check_output(impl, y, want);
  }
}

TEST_CASE("winograd falls back to direct for a strided conv") {
  ir::Graph g = conv_graph(32, 48, 2, 5);
  ir::Tensor x = random_tensor({1, 32, 14, 14}, 6);
  ir::Tensor y;
  std::string impl = conv_impl(g, x, ops::ConvAlgo::winograd, &y);
  CHECK_FALSE(is_winograd(impl));
  std::string report;
  CHECK_MESSAGE(count_mismatches(y, reference(g, x, 2), 1e-4, report) == 0, report);
}

TEST_CASE("auto keeps direct convolutions where Winograd was not measured to pay") {
  ir::Graph g = conv_graph(16, 16, 1, 7);
  ir::Tensor x = random_tensor({1, 16, 14, 14}, 8);
  ir::Tensor y;
  CHECK_FALSE(is_winograd(conv_impl(g, x, ops::ConvAlgo::auto_, &y)));
  std::string report;
  CHECK_MESSAGE(count_mismatches(y, reference(g, x, 1), 1e-4, report) == 0, report);
}

// Skipped without AVX2 (tests/isa.h).
TEST_CASE("auto runs a 64-channel 3x3 conv with many tiles on Winograd, oneDNN's or Kiln's") {
  if (skip_without_avx2("Kiln's Winograd kernel")) return;
  ir::Graph g = conv_graph(64, 64, 1, 11);
  ir::Tensor x = random_tensor({2, 64, 14, 14}, 12);  // 2 * 4 * 4 = 32 tiles of 4x4
  ir::Tensor y;
  std::string impl = conv_impl(g, x, ops::ConvAlgo::auto_, &y);
  INFO(impl);
  CHECK(is_winograd(impl));
  check_output(impl, y, reference(g, x, 1));
}

TEST_CASE("ResNet18 fused at level all with Winograd matches the unfused direct one node by node") {
  ir::Graph unfused = engine::load_model("resnet18", 5);
  ir::Graph fused = unfused.clone();
  auto reports = engine::fuse(fused, engine::FuseLevel::all);
  engine::FusionCheck check = engine::check_fusion(
      unfused, fused, reports, {random_tensor({1, 3, 224, 224}, 9)}, 1e-4,
      {ops::ConvAlgo::winograd});
  CHECK(check.nodes.size() == fused.nodes().size());
  const engine::NodeCheck* bad = check.first_failure();
  CHECK_MESSAGE(bad == nullptr, (bad ? bad->node + " vs " + bad->reference : std::string()));
}
