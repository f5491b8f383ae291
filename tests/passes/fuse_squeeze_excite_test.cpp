#include "passes/fuse_squeeze_excite.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/verify.h"
#include "passes/fuse_conv_activation.h"
#include "passes/pipeline.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

const kiln::passes::Pass kSe{"fuse_squeeze_excite", kiln::passes::fuse_squeeze_excite};
const kiln::passes::Pass kActivation{"fuse_conv_activation",
                                     kiln::passes::fuse_conv_activation};

// x [N, 8, 6, 5] -> conv "x1" -> pool "pool" -> conv "fc1" (1x1, 8 -> 4, bias
// unless `no_bias`) -> silu "a1" -> conv "fc2" (1x1, 4 -> 8) -> sigmoid "a2"
// -> mul "gate" (x1 times the gate, or the gate times x1) -> conv "out".
// With `pre_silu`, a silu "pre" between x1 and the block, and x1 a graph
// output too (so the silu stays a step of its own, as EfficientNet's after
// a depthwise conv does).
Graph se_block(bool gate_first = false, bool no_bias = false, bool pre_silu = false) {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 8, 6, 5});
  Value* conv = kiln::test::add_conv(g, "x1", x, 8, 8, 21);
  Value* x1 = pre_silu ? g.add_node("pre", "silu", {conv})->output : conv;
  Value* pooled = g.add_node("pool", "global_avg_pool2d", {x1})->output;
  std::vector<Value*> fc1 = {pooled, g.add_param("fc1.weight", random_tensor({4, 8, 1, 1}, 22))};
  if (!no_bias) fc1.push_back(g.add_param("fc1.bias", random_tensor({4}, 23)));
  Value* s = g.add_node("fc1", "conv2d", fc1)->output;
  s = g.add_node("a1", "silu", {s})->output;
  Value* e = g.add_node("fc2", "conv2d",
                        {s, g.add_param("fc2.weight", random_tensor({8, 4, 1, 1}, 24)),
                         g.add_param("fc2.bias", random_tensor({8}, 25))})
                 ->output;
  e = g.add_node("a2", "sigmoid", {e})->output;
  std::vector<Value*> operands = gate_first ? std::vector<Value*>{e, x1} : std::vector<Value*>{x1, e};
  Value* gated = g.add_node("gate", "mul", operands)->output;
  Value* out = kiln::test::add_conv(g, "out", gated, 8, 3, 26, 1);
  g.set_outputs(pre_silu ? std::vector<Value*>{out, conv} : std::vector<Value*>{out});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

}  // namespace

TEST_CASE("fuse_squeeze_excite makes one node of pool, two 1x1 convs with activations and mul") {
  for (bool gate_first : {false, true}) {
    for (bool no_bias : {false, true}) {
      CAPTURE(gate_first);
      CAPTURE(no_bias);
      Graph g = se_block(gate_first, no_bias);
      kiln::passes::run_passes(g, {kActivation}, ops());
      const PassReport r =
          kiln::test::pass_and_compare(g, kSe, {random_tensor({2, 8, 6, 5}, 27, -2, 2)});
      CHECK(r.changed == std::vector<std::string>{"pool, fc1, fc2 and gate into squeeze_excite"});
      CHECK(r.skipped.empty());
      CHECK(g.count_op("global_avg_pool2d") == 0);
      CHECK(g.count_op("mul") == 0);
      CHECK(g.count_op("conv2d") == 2);  // x1 and out
      const Node* se = g.find_node("gate");
      REQUIRE(se);
      CHECK(se->op == "squeeze_excite");
      REQUIRE(se->inputs.size() == 5);
      CHECK(se->inputs[0]->name == "x1");
      CHECK(se->inputs[1]->name == "fc1.weight");
      CHECK(se->inputs[2]->name == "fc1.bias");
      CHECK(se->inputs[3]->name == "fc2.weight");
      CHECK(kiln::ir::attr_string(*se, "squeeze_activation", "") == "silu");
      CHECK(kiln::ir::attr_string(*se, "gate_activation", "") == "sigmoid");
      if (no_bias) {
        // A zero bias stands in for the one fc1 lacked.
        for (float v : se->inputs[2]->data->data) CHECK(v == 0.f);
      }
    }
  }
}

TEST_CASE("fuse_squeeze_excite takes in the activation before the block when only it reads it") {
  Graph g = se_block(false, false, true);
  kiln::passes::run_passes(g, {kActivation}, ops());
  REQUIRE(g.find_node("pre"));
  const PassReport r =
      kiln::test::pass_and_compare(g, kSe, {random_tensor({2, 8, 6, 5}, 29, -2, 2)});
  CHECK(r.changed ==
        std::vector<std::string>{"pre, pool, fc1, fc2 and gate into squeeze_excite"});
  CHECK_FALSE(g.find_node("pre"));
  const Node* se = g.find_node("gate");
  REQUIRE(se);
  CHECK(se->inputs[0]->name == "x1");
  CHECK(kiln::ir::attr_string(*se, "input_activation", "") == "silu");
}

TEST_CASE("fuse_squeeze_excite runs last in the pipeline, after the activations move in") {
  Graph g = se_block();
  Graph original = g.clone();
  const auto reports =
      kiln::passes::run_passes(g, kiln::passes::pipeline(kiln::passes::FuseLevel::all), ops());
  CHECK(reports.back().pass == "fuse_squeeze_excite");
  CHECK(g.count_op("squeeze_excite") == 1);
  CHECK(g.count_op("silu") == 0);
  CHECK(g.count_op("sigmoid") == 0);
  const std::vector<kiln::ir::Tensor> x = {random_tensor({3, 8, 6, 5}, 28, -2, 2)};
  CHECK(kiln::test::relative_error(kiln::engine::run_graph(g, x).at(0),
                                   kiln::engine::run_graph(original, x).at(0)) < 1e-5);
}

TEST_CASE("fuse_squeeze_excite leaves a block whose parts are read elsewhere") {
  // The pooled vector is also a graph output.
  Graph output = se_block();
  kiln::passes::run_passes(output, {kActivation}, ops());
  output.set_outputs({output.outputs()[0], output.find_value("pool")});
  PassReport r = kiln::passes::run_passes(output, {kSe}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "gate");
  CHECK(r.skipped[0].reason == "the output of global_avg_pool2d 'pool' is a graph output");

  // The pooled vector has a second reader.
  Graph shared = se_block();
  kiln::passes::run_passes(shared, {kActivation}, ops());
  Value* other = shared.add_node("other", "relu", {shared.find_value("pool")})->output;
  shared.set_outputs({shared.outputs()[0], other});
  kiln::ir::infer_shapes(shared, ops());
  r = kiln::passes::run_passes(shared, {kSe}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "the output of global_avg_pool2d 'pool' has 2 users (fc1, other); it must stay");
  CHECK(shared.count_op("mul") == 1);

  // A gate of another tensor than the one pooled is not this block.
  Graph other_x = se_block();
  kiln::passes::run_passes(other_x, {kActivation}, ops());
  other_x.set_input(other_x.find_node("gate"), 0, other_x.find_value("x"));
  kiln::ir::infer_shapes(other_x, ops());
  r = kiln::passes::run_passes(other_x, {kSe}, ops()).at(0);
  CHECK(r.changed.empty());
  CHECK(r.skipped.empty());
}
