#include "passes/fuse_concat_batchnorm.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/verify.h"
#include "passes/fuse_conv_activation.h"
#include "passes/pipeline.h"
#include "tests/passes/fold_support.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

const kiln::passes::Pass kConcatBn{"fuse_concat_batchnorm", kiln::passes::fuse_concat_batchnorm};

// A dense block's layer: x [N, 6, 5, 7] -> conv "a" (8 channels) -> conv "b"
// (4), then "cat" = concat(x, a, b) along `axis`, batchnorm "bn" (randomised,
// 18 channels), relu "act", conv "out" -> output.
Graph dense_layer(int64_t axis = 1) {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
  Value* a = kiln::test::add_conv(g, "a", x, 6, 8, 11);
  Value* b = kiln::test::add_conv(g, "b", a, 8, 4, 13);
  Value* cat = g.add_node("cat", "concat", {x, a, b}, {{"axis", axis}})->output;
  kiln::test::Rng rng(5);
  const kiln::test::BnParams p = kiln::test::random_bn(18, rng);
  Value* bn = g.add_node("bn", "batchnorm",
                         {cat, g.add_param("bn.mean", p.mean), g.add_param("bn.var", p.var),
                          g.add_param("bn.weight", p.gamma), g.add_param("bn.bias", p.beta)},
                         {{"eps", 1e-3}})
                  ->output;
  Value* act = g.add_node("act", "relu", {bn})->output;
  g.set_outputs({kiln::test::add_conv(g, "out", act, 18, 5, 17, 1)});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

}  // namespace

TEST_CASE("fuse_concat_batchnorm joins a channel concat and its batchnorm into one node") {
  Graph g = dense_layer();
  const PassReport r = kiln::test::pass_and_compare(
      g, kConcatBn, {kiln::test::random_tensor({2, 6, 5, 7}, 3, -2, 2)});
  CHECK(r.changed ==
        std::vector<std::string>{"concat 'cat' and batchnorm 'bn' into concat_batchnorm"});
  CHECK(g.count_op("concat") == 0);
  CHECK(g.count_op("batchnorm") == 0);
  const Node* fused = g.find_node("bn");
  REQUIRE(fused);
  CHECK(fused->op == "concat_batchnorm");
  std::vector<std::string> inputs;
  for (const Value* in : fused->inputs) inputs.push_back(in->name);
  CHECK(inputs == std::vector<std::string>{"x", "a", "b", "bn.mean", "bn.var", "bn.weight",
                                           "bn.bias"});
  CHECK(kiln::ir::attr_real(*fused, "eps", 0) == 1e-3);

  // fuse_conv_activation then moves the relu into it.
  const PassReport act = kiln::passes::run_passes(
      g, {{"fuse_conv_activation", kiln::passes::fuse_conv_activation}}, ops()).at(0);
  CHECK(act.changed == std::vector<std::string>{"act (relu) into bn"});
  CHECK(kiln::ir::attr_string(*fused, "activation", "none") == "relu");
}

TEST_CASE("fuse_concat_batchnorm runs the whole pipeline to the same outputs") {
  Graph g = dense_layer();
  Graph original = g.clone();
  kiln::passes::run_passes(g, kiln::passes::pipeline(kiln::passes::FuseLevel::all), ops());
  CHECK(g.count_op("concat_batchnorm") == 1);
  CHECK(g.count_op("relu") == 0);
  const std::vector<kiln::ir::Tensor> x = {kiln::test::random_tensor({3, 6, 5, 7}, 4, -2, 2)};
  CHECK(kiln::test::relative_error(kiln::engine::run_graph(g, x).at(0),
                                   kiln::engine::run_graph(original, x).at(0)) < 1e-5);
}

TEST_CASE("fuse_concat_batchnorm leaves a concat that must stay or is not a channel join") {
  // The concat is also a graph output.
  Graph output = dense_layer();
  output.set_outputs({output.outputs()[0], output.find_value("cat")});
  PassReport r = kiln::passes::run_passes(output, {kConcatBn}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "bn");
  CHECK(r.skipped[0].reason == "the output of concat 'cat' is a graph output");

  // Another node reads it.
  Graph shared = dense_layer();
  Value* other = shared.add_node("other", "relu", {shared.find_value("cat")})->output;
  shared.set_outputs({shared.outputs()[0], other});
  kiln::ir::infer_shapes(shared, ops());
  r = kiln::passes::run_passes(shared, {kConcatBn}, ops()).at(0);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason == "the output of concat 'cat' has 2 users (bn, other); it must stay");

  // A join of a parameter.
  Graph param = dense_layer();
  param.set_input(param.find_node("cat"), 0,
                  param.add_param("const", kiln::test::random_tensor({1, 6, 5, 7}, 9)));
  param.set_input(param.find_node("a"), 0, param.add_input("y", {1, 6, 5, 7}));
  param.set_input(param.find_node("b"), 0, param.find_value("a"));
  kiln::ir::infer_shapes(param, ops());
  r = kiln::passes::run_passes(param, {kConcatBn}, ops()).at(0);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason == "concat 'cat' joins parameter 'const'");
  CHECK(param.count_op("concat") == 1);
}
