#include "passes/fuse_swish.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/verify.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

const kiln::passes::Pass kSwish{"fuse_swish", kiln::passes::fuse_swish};

// x [N, 6, 5, 7] -> conv "conv" -> gate "g" (`gate_op`) -> mul "m" (the conv's
// output times the gate, operands in that order or swapped) -> output.
Graph gated(const std::string& gate_op, bool gate_first) {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
  Value* y = kiln::test::add_conv(g, "conv", x, 6, 6, 31);
  Value* gate = g.add_node("g", gate_op, {y})->output;
  std::vector<Value*> operands = gate_first ? std::vector<Value*>{gate, y} : std::vector<Value*>{y, gate};
  g.set_outputs({g.add_node("m", "mul", operands)->output});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

}  // namespace

TEST_CASE("fuse_swish turns x * sigmoid(x) into silu and x * hardsigmoid(x) into hardswish") {
  struct Case {
    std::string gate, swish;
    bool gate_first;
  };
  for (const Case& c : {Case{"sigmoid", "silu", false}, Case{"sigmoid", "silu", true},
                        Case{"hardsigmoid", "hardswish", false},
                        Case{"hardsigmoid", "hardswish", true}}) {
    INFO(c.gate, " first: ", c.gate_first);
    Graph g = gated(c.gate, c.gate_first);
    // Inputs spread over [-5, 5], where hardsigmoid clamps at both ends.
    const PassReport r =
        kiln::test::pass_and_compare(g, kSwish, {random_tensor({2, 6, 5, 7}, 5, -5, 5)});
    CHECK(r.changed == std::vector<std::string>{"m (x * " + c.gate + "(x)) into " + c.swish});
    CHECK(g.count_op("mul") == 0);
    CHECK(g.count_op(c.gate) == 0);
    const Node* swish = g.find_node("m");
    REQUIRE(swish);
    CHECK(swish->op == c.swish);
    CHECK(swish->inputs.at(0)->name == "conv");
    CHECK(g.outputs().at(0) == swish->output);
  }
}

TEST_CASE("fuse_swish leaves a gate another node reads, and products of two values") {
  // The sigmoid is also a graph output, or another node reads it: it must
  // stay, and the skip says why.
  Graph output = gated("sigmoid", false);
  output.set_outputs({output.outputs()[0], output.find_value("g")});
  PassReport r = kiln::passes::run_passes(output, {kSwish}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "m");
  CHECK(r.skipped[0].reason == "the output of sigmoid 'g' is a graph output");

  Graph shared = gated("hardsigmoid", false);
  Value* other = shared.add_node("other", "relu", {shared.find_value("g")})->output;
  shared.set_outputs({shared.outputs()[0], other});
  kiln::ir::infer_shapes(shared, ops());
  r = kiln::passes::run_passes(shared, {kSwish}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason == "the output of hardsigmoid 'g' has 2 users (m, other); it must stay");
  CHECK(shared.count_op("mul") == 1);

  // A squeeze-excitation gate: x * sigmoid(y) with y another value. Not a swish.
  Graph se;
  Value* x = se.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
  Value* y = kiln::test::add_conv(se, "conv", x, 6, 6, 32);
  Value* gate = se.add_node("g", "sigmoid", {y})->output;
  se.set_outputs({se.add_node("m", "mul", {x, gate})->output});
  kiln::ir::infer_shapes(se, ops());
  r = kiln::passes::run_passes(se, {kSwish}, ops()).at(0);
  CHECK(r.changed.empty());
  CHECK(r.skipped.empty());
  CHECK(se.count_op("mul") == 1);
}

TEST_CASE("fuse_swish lets fuse_conv_activation move the silu into the conv at --fuse=all") {
  Graph g = gated("sigmoid", false);
  Graph original = g.clone();
  kiln::engine::fuse(g, kiln::engine::FuseLevel::all);
  REQUIRE(g.nodes().size() == 1);
  const Node& conv = *g.nodes()[0];
  CHECK(conv.op == "conv2d");
  CHECK(kiln::ir::attr_string(conv, "activation", "none") == "silu");
  const std::vector<kiln::ir::Tensor> x = {random_tensor({2, 6, 5, 7}, 6, -3, 3)};
  CHECK(kiln::test::relative_error(kiln::engine::run_graph(g, x)[0],
                                   kiln::engine::run_graph(original, x)[0]) < 1e-5);
}
