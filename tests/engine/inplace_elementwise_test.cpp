// Elementwise steps writing over an input that dies at the step
// (overwrite_dying_inputs in engine/compile.cpp).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"
#include "tests/passes/graph_builders.h"

using namespace kiln;
using test::random_tensor;

namespace {

ir::Value* infer(ir::Graph& g, ir::Node* node) {
  ir::infer_shapes(g, ops::registry().schemas());
  return node->output;
}

// test::add_conv (3x3, as many channels out as in), with its shape inferred.
ir::Value* conv(ir::Graph& g, const std::string& name, ir::Value* x, uint64_t seed) {
  const int64_t c = x->shape[1];
  ir::Value* y = test::add_conv(g, name, x, c, c, seed);
  ir::infer_shapes(g, ops::registry().schemas());
  return y;
}

// x -> conv "c1" -> batchnorm "bn" -> silu "act" -> conv "c2" -> sigmoid "gate";
// mul "m" = act-branch * gate; add "sum" = m + c1 (c1 read again: its
// batchnorm must not overwrite it); relu "out" of the sum.
ir::Graph block() {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 16, 6, 6});
  ir::Value* c1 = conv(g, "c1", x, 21);
  ir::Value* bn = infer(g, g.add_node("bn", "batchnorm",
                                      {c1, g.add_param("bn.mean", random_tensor({16}, 2)),
                                       g.add_param("bn.var", random_tensor({16}, 3, 0.5, 2.0)),
                                       g.add_param("bn.gamma", random_tensor({16}, 4, 0.5, 1.5)),
                                       g.add_param("bn.beta", random_tensor({16}, 5))}));
  ir::Value* act = infer(g, g.add_node("act", "silu", {bn}));
  ir::Value* gate = infer(g, g.add_node("gate", "sigmoid", {conv(g, "c2", act, 23)}));
  ir::Value* m = infer(g, g.add_node("m", "mul", {act, gate}));
  ir::Value* sum = infer(g, g.add_node("sum", "add", {m, c1}));
  g.set_outputs({infer(g, g.add_node("out", "relu", {sum}))});
  ir::verify(g, ops::registry().schemas());
  return g;
}

std::map<std::string, int> inplace_by_step(const engine::Plan& plan) {
  std::map<std::string, int> out;
  for (const engine::StepInfo& s : plan.steps()) out[s.name] = s.inplace_input;
  return out;
}

}  // namespace

TEST_CASE("an elementwise step overwrites its input where nothing reads it later, and only there") {
  const ir::Graph g = block();
  engine::Plan plan = engine::compile(g, 2);
  std::map<std::string, int> inplace = inplace_by_step(plan);
  CHECK(inplace["bn"] == -1);    // c1 is read again by the add
  CHECK(inplace["act"] == 0);    // bn's output dies here
  CHECK(inplace["gate"] == 0);   // c2's output dies here
  CHECK(inplace["m"] == 0);      // act dies here (the gate is read by m only, too)
  CHECK(inplace["sum"] == 0);    // m dies here; c1 as well, once
  CHECK(inplace["out"] == 0);

  engine::CompileOptions copying;
  copying.inplace_elementwise = false;
  engine::Plan copied = engine::compile(g, 2, copying);
  for (const auto& [name, input] : inplace_by_step(copied)) {
    INFO(name);
    CHECK(input == -1);
  }
  CHECK(plan.activation_bytes() < copied.activation_bytes());

  // Bit for bit the same outputs, on two runs of each plan (an overwritten
  // input is the engine's own buffer, refilled every run).
  const ir::Tensor x = random_tensor({2, 16, 6, 6}, 9);
  engine::Context in_place(plan), apart(copied);
  const std::vector<ir::Tensor> want = apart.run({x});
  for (int run = 0; run < 2; ++run) {
    std::vector<ir::Tensor> got = in_place.run({x});
    REQUIRE(got.size() == 1);
    CHECK(got[0].data == want[0].data);
  }
}

TEST_CASE("an elementwise step on a graph input overwrites only the engine's copy") {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 8, 5, 5});
  g.set_outputs({infer(g, g.add_node("act", "hardswish", {x}))});
  engine::Plan plan = engine::compile(g, 1);
  REQUIRE(plan.steps().size() >= 1);
  CHECK(inplace_by_step(plan)["act"] == 0);
  const ir::Tensor input = random_tensor({1, 8, 5, 5}, 10, -4, 4);
  const ir::Tensor kept = input;
  engine::Context ctx(plan);
  const std::vector<ir::Tensor> first = ctx.run({input});
  const std::vector<ir::Tensor> second = ctx.run({input});
  CHECK(input.data == kept.data);
  CHECK(first[0].data == second[0].data);
  CHECK(first[0].data != input.data);
}

TEST_CASE("an elementwise step never overwrites a tensor whose layout pads it") {
  // 6 channels: oneDNN's Winograd (AVX-512) writes them in nChw16c, 10 of
  // each 16 padding. oneDNN 2.6's binary op with a scalar gave wrong values in
  // place there; the engine must keep such a step out of place, and the
  // outputs must equal the copying plan's on any CPU.
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 6, 8, 5});
  ir::Value* y = conv(g, "conv", x, 31);
  for (const char* op : {"add", "mul", "sub"}) {
    ir::Value* scalar = g.add_param(std::string(op) + ".s", random_tensor({}, 12, 2, 3));
    y = infer(g, g.add_node(op, op, {y, scalar}));
  }
  g.set_outputs({y});
  engine::CompileOptions winograd;
  winograd.conv_algo = ops::ConvAlgo::winograd;
  engine::Plan plan = engine::compile(g, 2, winograd);
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  for (const engine::Step& step : impl.steps) {
    const dnnl_memory_desc_t& md = impl.tensors.at(size_t(step.inputs.at(0))).desc.data;
    bool padded = false;
    for (int d = 0; d < md.ndims; ++d) padded = padded || md.padded_dims[d] != md.dims[d];
    INFO(step.name);
    if (padded) CHECK(step.inplace_input == -1);
  }
  engine::CompileOptions copying = winograd;
  copying.inplace_elementwise = false;
  engine::Plan copied = engine::compile(g, 2, copying);
  const ir::Tensor in = random_tensor({2, 6, 8, 5}, 13);
  CHECK(engine::Context(plan).run({in})[0].data == engine::Context(copied).run({in})[0].data);
}
