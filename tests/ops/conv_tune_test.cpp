// ConvAlgo::tune (ops/conv_tune.h): it times the kernels that can run a conv
// and runs one of them, the fastest it lists, with the reference's result;
// a layer only direct runs is not timed; an identical layer is timed once.
// And conv_signature, the key of the times. No test asserts on a time.
// Cases that need a Winograd kernel skip without AVX2 (tests/isa.h); ctest
// also runs them under ONEDNN_MAX_CPU_ISA=AVX2 (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/conv2d.h"
#include "ops/conv_tune.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/engine/temp_cache.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

const ir::Attrs kRelu = {{"padding", std::vector<int64_t>{1, 1}},
                         {"activation", std::string("relu")}};

// x -> conv2d "conv" (weight [oc, c, k, k], bias) with `attrs`, then, if
// `twice`, the same conv again as "conv_2" (its own weights, same shapes).
ir::Graph conv_graph(int64_t c, int64_t oc, int64_t k, const ir::Attrs& attrs, bool twice = false) {
  ir::Graph g;
  ir::Value* y = g.add_input("x", {ir::kBatch, c, 14, 14});
  for (const char* name : {"conv", "conv_2"}) {
    y = g.add_node(name, "conv2d",
                   {y, g.add_param(std::string(name) + ".w", random_tensor({oc, c, k, k}, 1)),
                    g.add_param(std::string(name) + ".b", random_tensor({oc}, 2))},
                   attrs)
            ->output;
    if (!twice) break;
  }
  g.set_outputs({y});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  return g;
}

// The reasons of the plan's conv steps, in order.
std::vector<std::string> conv_reasons(const engine::Plan& plan) {
  std::vector<std::string> reasons;
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op == "conv2d" || step.op == "conv2d_add") reasons.push_back(step.reason);
  }
  return reasons;
}

// "kiln winograd: tune: direct 0.5 ms, kiln winograd 0.25 ms" -> the kernel
// that runs ("kiln winograd") and the times listed, by kernel name.
struct TuneReason {
  std::string kernel;
  std::map<std::string, double> ms;
};
TuneReason parse_tune_reason(const std::string& reason) {
  TuneReason r;
  const std::string tag = ": tune: ";
  const size_t at = reason.find(tag);
  REQUIRE_MESSAGE(at != std::string::npos, reason);
  r.kernel = reason.substr(0, at);
  std::string rest = reason.substr(at + tag.size()) + ", ";
  for (size_t end; (end = rest.find(" ms, ")) != std::string::npos; rest = rest.substr(end + 5)) {
    const std::string item = rest.substr(0, end);  // "onednn winograd 0.33"
    const size_t space = item.rfind(' ');
    r.ms[item.substr(0, space)] = std::stod(item.substr(space + 1));
  }
  return r;
}

// Checks that the kernel run is one of those timed, the fastest of them,
// and that every kernel this CPU has for the conv was timed: direct, Kiln's
// (the cases' channels are multiples of 16) and, on AVX-512, oneDNN's
// unless it lacks the post-ops (`onednn_has_post_ops`).
void check_tuned(const std::string& reason, bool onednn_has_post_ops = true) {
  INFO(reason);
  const TuneReason r = parse_tune_reason(reason);
  CHECK(r.ms.count("direct") == 1);
  CHECK(r.ms.count("kiln winograd") == 1);
  CHECK(r.ms.count("onednn winograd") == (has_avx512() && onednn_has_post_ops ? 1u : 0u));
  REQUIRE(r.ms.count(r.kernel) == 1);
  for (const auto& [kernel, ms] : r.ms) CHECK(r.ms.at(r.kernel) <= ms);
}

}  // namespace

TEST_CASE("tune runs the fastest of the kernels it timed, with the reference's result") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  if (skip_without_avx2("Kiln's Winograd kernel, without which only direct runs")) return;
  ir::Graph g = conv_graph(64, 64, 3, kRelu);
  ir::Tensor x = random_tensor({2, 64, 14, 14}, 3);
  engine::Plan plan = engine::compile(g, 2, {ops::ConvAlgo::tune});
  const std::vector<std::string> reasons = conv_reasons(plan);
  REQUIRE(reasons.size() == 1);
  check_tuned(reasons[0]);
  engine::Context ctx(plan);
  const ir::Node* conv = g.find_node("conv");
  RefTensor b = to_ref(*conv->inputs[2]->data);
  RefTensor want = ref_relu(
      ref_conv2d(to_ref(x), to_ref(*conv->inputs[1]->data), &b, {1, 1}, {1, 1}, {1, 1}, 1));
  check_close(ctx.run({x})[0], want, 1e-4);
}

TEST_CASE("tune on conv2d_add, in place and reading the residual, gives the reference's result") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  if (skip_without_avx2("Kiln's Winograd kernel, without which only direct runs")) return;
  ir::Tensor bias = random_tensor({32}, 11);
  for (bool residual_is_output : {false, true}) {
    CAPTURE(residual_is_output);
    ir::Graph g = conv2d_add_graph({3, 32, 9, 11}, {3, 32, 9, 11}, random_tensor({32, 32, 3, 3}, 10),
                                   &bias, kRelu, residual_is_output);
    ir::Tensor x = random_tensor({3, 32, 9, 11}, 12), r = random_tensor({3, 32, 9, 11}, 13);
    engine::Plan plan = engine::compile(g, 3, {ops::ConvAlgo::tune});
    const std::vector<std::string> reasons = conv_reasons(plan);
    REQUIRE(reasons.size() == 1);
    check_tuned(reasons[0], !residual_is_output);  // oneDNN's has no binary post-op
    engine::Context ctx(plan);
    std::vector<ir::Tensor> y = ctx.run({x, r});
    y = ctx.run({x, r});  // a second run must not see the first one's residual
    const ir::Node* conv = g.find_node("conv");
    RefTensor b = to_ref(bias);
    RefTensor y_conv =
        ref_conv2d(to_ref(x), to_ref(*conv->inputs[2]->data), &b, {1, 1}, {1, 1}, {1, 1}, 1);
    check_close(y[0], ref_relu(ref_add(y_conv, to_ref(r))), 1e-4);
    if (residual_is_output) CHECK(y[1].data == r.data);
  }
}

TEST_CASE("tune does not time a conv that only direct runs") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  ir::Attrs strided = kRelu;
  strided["stride"] = std::vector<int64_t>{2, 2};
  CHECK(conv_reasons(engine::compile(conv_graph(64, 64, 1, kRelu), 1, {ops::ConvAlgo::tune})) ==
        std::vector<std::string>{"direct: 1x1 kernel"});
  CHECK(conv_reasons(engine::compile(conv_graph(64, 64, 3, strided), 1, {ops::ConvAlgo::tune})) ==
        std::vector<std::string>{"direct: stride 2"});
}

TEST_CASE("tune times a layer once per compile: an identical layer takes the same times") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  if (skip_without_avx2("Kiln's Winograd kernel, without which only direct runs")) return;
  const std::vector<std::string> reasons =
      conv_reasons(engine::compile(conv_graph(32, 32, 3, kRelu, true), 1, {ops::ConvAlgo::tune}));
  REQUIRE(reasons.size() == 2);
  check_tuned(reasons[0]);
  CHECK(reasons[1] == reasons[0]);  // timed again, the medians would differ
}

TEST_CASE("conv_signature differs in each thing a layer's time depends on") {
  ir::Graph g = conv_graph(32, 32, 3, kRelu);
  ir::Node& conv = *g.find_node("conv");
  const dnnl::post_ops relu = ops::activation_post_ops(conv);
  const std::string base = ops::conv_signature(conv, relu);
  CHECK(base ==
        "conv2d x [N, 32, 14, 14] weight [32, 32, 3, 3] bias stride [1, 1] padding [1, 1] "
        "dilation [1, 1] groups 1 activation relu post-ops eltwise");
  CHECK(ops::conv_signature(conv, relu) == base);

  auto changed = [&](const std::function<void(ir::Node&)>& change) {
    ir::Graph copy = g.clone();
    ir::Node& node = *copy.find_node("conv");
    change(node);
    return ops::conv_signature(node, relu);
  };
  CHECK(changed([](ir::Node& n) { n.inputs[0]->shape[0] = 10; }) != base);
  CHECK(changed([](ir::Node& n) { n.op = "conv2d_add"; }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["stride"] = std::vector<int64_t>{1, 2}; }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["padding"] = std::vector<int64_t>{0, 0}; }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["dilation"] = std::vector<int64_t>{2, 2}; }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["groups"] = int64_t{2}; }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["activation"] = std::string("none"); }) != base);
  CHECK(changed([](ir::Node& n) { n.attrs["activation_alpha"] = 0.1; }) != base);
  CHECK(changed([](ir::Node& n) { n.inputs.pop_back(); }) != base);  // no bias

  dnnl::post_ops sum, binary;
  sum.append_sum(1.f);
  binary.append_binary(dnnl::algorithm::binary_add,
                       dnnl::memory::desc({1, 32, 14, 14}, dnnl::memory::data_type::f32,
                                          dnnl::memory::format_tag::any));
  CHECK(ops::conv_signature(conv, sum) != base);
  CHECK(ops::conv_signature(conv, binary) != ops::conv_signature(conv, sum));
  // Blocked convs run other direct kernels.
  CHECK(ops::conv_signature(conv, relu, true) == base + " layout blocked");
}
