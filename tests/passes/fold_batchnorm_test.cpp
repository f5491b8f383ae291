// fold_batchnorm, the pass, on graphs: what it folds, what it refuses and
// why, and that every folded graph computes what the original did.
#include "passes/fold_batchnorm.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "ops/registry.h"
#include "tests/passes/fold_support.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;
using kiln::passes::fold_batchnorm;
using kiln::test::BnParams;
using kiln::test::random_bn;
using kiln::test::random_tensor;
using kiln::test::Rng;

// --- the pass on graphs ----------------------------------------------------------

std::vector<PassReport> run_fold(Graph& g) {
  return kiln::passes::run_passes(g, {{"fold_batchnorm", fold_batchnorm}}, ops());
}

Value* add_conv(Graph& g, Rng& rng, const std::string& name, Value* x, int64_t ic, int64_t oc,
                bool bias) {
  std::vector<Value*> inputs = {
      x, g.add_param(name + ".weight", random_tensor({oc, ic, 3, 3}, rng, -0.3, 0.3))};
  if (bias) inputs.push_back(g.add_param(name + ".bias", random_tensor({oc}, rng, -0.3, 0.3)));
  return g.add_node(name, "conv2d", inputs, {{"padding", std::vector<int64_t>{1, 1}}})->output;
}

Value* add_bn(Graph& g, Rng& rng, const std::string& name, Value* x, int64_t channels,
              bool affine = true) {
  BnParams p = random_bn(channels, rng);
  std::vector<Value*> inputs = {x, g.add_param(name + ".running_mean", p.mean),
                                g.add_param(name + ".running_var", p.var)};
  if (affine) {
    inputs.push_back(g.add_param(name + ".weight", p.gamma));
    inputs.push_back(g.add_param(name + ".bias", p.beta));
  }
  return g.add_node(name, "batchnorm", inputs, {{"eps", 1e-3}})->output;
}

Tensor random_input(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  return random_tensor(shape, rng, -1, 1);
}

// Runs fold_batchnorm (verify after it) on a copy and checks the outputs match the original.
PassReport fold_and_compare(Graph& g, const Tensor& x, double tolerance = 1e-5) {
  Graph original = g.clone();
  std::vector<PassReport> reports = run_fold(g);
  REQUIRE(reports.size() == 1);
  std::vector<Tensor> expected = kiln::engine::run_graph(original, {x});
  std::vector<Tensor> got = kiln::engine::run_graph(g, {x});
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(relative_error(got[i], expected[i]) < tolerance);
  return reports[0];
}

const Node* find_node(const Graph& g, const std::string& name) {
  const Node* n = g.find_node(name);
  REQUIRE(n != nullptr);
  return n;
}

TEST_CASE("fold_batchnorm folds a bias-free conv and its BN into one conv with a bias") {
  Graph g;
  Rng rng(21);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, false);
  g.set_outputs({add_bn(g, rng, "bn", conv, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 1));
  CHECK(r.pass == "fold_batchnorm");
  CHECK(r.changed == std::vector<std::string>{"bn into conv"});
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  const Node* c = find_node(g, "conv");
  REQUIRE(c->inputs.size() == 3);
  CHECK(c->inputs[1]->name == "conv.weight_folded");
  CHECK(c->inputs[2]->name == "conv.bias_folded");
  // The conv's output keeps its name and is now the graph output.
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0] == c->output);
  // The old weights and the BN's statistics are gone.
  CHECK(g.find_value("conv.weight") == nullptr);
  CHECK(g.find_value("bn.running_mean") == nullptr);
  CHECK(g.find_value("bn.weight") == nullptr);
  CHECK(g.params().size() == 2);
}

TEST_CASE("fold_batchnorm points the BN's users at the conv and replaces an existing bias") {
  Graph g;
  Rng rng(22);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 6, 5});
  Value* conv = add_conv(g, rng, "conv", x, 3, 5, true);
  Value* bn = add_bn(g, rng, "bn", conv, 5, false);
  Node* relu = g.add_node("relu", "relu", {bn});
  g.set_outputs({relu->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({1, 3, 6, 5}, 2));
  CHECK(r.changed == std::vector<std::string>{"bn into conv"});
  const Node* c = find_node(g, "conv");
  REQUIRE(c->inputs.size() == 3);
  CHECK(c->inputs[2]->name == "conv.bias_folded");
  CHECK(find_node(g, "relu")->inputs[0] == c->output);
  CHECK(c->output->users.size() == 1);
  CHECK(g.find_value("conv.bias") == nullptr);
}

TEST_CASE("fold_batchnorm skips a conv whose output has two users") {
  Graph g;
  Rng rng(23);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn = add_bn(g, rng, "bn", conv, 4);
  Node* relu = g.add_node("relu", "relu", {conv});
  g.set_outputs({g.add_node("add", "add", {bn, relu->output})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 3));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "bn");
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' has 2 users (bn, relu); folding would change what the "
        "others read");
  CHECK(g.count_op("batchnorm") == 1);
  CHECK(g.find_value("conv.weight") != nullptr);
}

TEST_CASE("fold_batchnorm skips a BN that follows a relu") {
  Graph g;
  Rng rng(24);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Node* relu = g.add_node("relu", "relu", {conv});
  g.set_outputs({add_bn(g, rng, "bn", relu->output, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = run_fold(g).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "bn");
  CHECK(r.skipped[0].reason == "input 'relu' is produced by relu, not conv2d or linear");
  CHECK(g.count_op("batchnorm") == 1);
}

TEST_CASE("fold_batchnorm skips a BN that reads a graph input") {
  Graph g;
  Rng rng(25);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 3, 3});
  g.set_outputs({add_bn(g, rng, "bn", x, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = run_fold(g).at(0);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason == "input 'x' is a graph input, not produced by conv2d or linear");
}

TEST_CASE("fold_batchnorm skips a conv whose output is also a graph output") {
  Graph g;
  Rng rng(26);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn = add_bn(g, rng, "bn", conv, 4);
  g.set_outputs({conv, bn});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 4));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' is also a graph output; folding would change it");
  CHECK(g.count_op("batchnorm") == 1);
  CHECK(g.outputs()[0]->name == "conv");
  CHECK(g.outputs()[1]->name == "bn");
}

TEST_CASE("fold_batchnorm skips convs that share a weight parameter") {
  Graph g;
  Rng rng(27);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 5, 5});
  Value* w = g.add_param("shared.weight", random_tensor({4, 4, 3, 3}, rng, -0.3, 0.3));
  kiln::ir::Attrs pad = {{"padding", std::vector<int64_t>{1, 1}}};
  Value* a = g.add_node("conv_a", "conv2d", {x, w}, pad)->output;
  Value* bn_a = add_bn(g, rng, "bn_a", a, 4);
  Value* b = g.add_node("conv_b", "conv2d", {bn_a, w}, pad)->output;
  g.set_outputs({add_bn(g, rng, "bn_b", b, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({1, 4, 5, 5}, 5));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].reason == "conv2d 'conv_a': weight 'shared.weight' is also used by conv_b");
  CHECK(g.count_op("batchnorm") == 2);
}

TEST_CASE("fold_batchnorm folds two BNs in a row into the same conv") {
  Graph g;
  Rng rng(28);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 6, 6});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn1 = add_bn(g, rng, "bn1", conv, 4);
  g.set_outputs({add_bn(g, rng, "bn2", bn1, 4, false)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 6, 6}, 6));
  CHECK(r.changed == std::vector<std::string>{"bn1 into conv", "bn2 into conv"});
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.params().size() == 2);
}

TEST_CASE("fold_batchnorm folds a BN on [N, C] into the linear before it") {
  Graph g;
  Rng rng(29);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 7});
  Value* w = g.add_param("fc.weight", random_tensor({6, 7}, rng, -0.4, 0.4));
  Value* b = g.add_param("fc.bias", random_tensor({6}, rng, -0.4, 0.4));
  Value* fc = g.add_node("fc", "linear", {x, w, b})->output;
  g.set_outputs({add_bn(g, rng, "bn", fc, 6)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({3, 7}, 7));
  CHECK(r.changed == std::vector<std::string>{"bn into fc"});
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(find_node(g, "fc")->inputs[1]->name == "fc.weight_folded");
}

// x -> conv (3 -> 2 channels, with bias) -> bn, whose running_var is then
// replaced by 'bad_var' = [0.5, -1]; with `infer_first`, shapes are inferred
// before the replacement (as if the statistics changed after the load's checks).
struct BadVarGraph {
  Graph g;
  Value* conv;
};
BadVarGraph conv_bn_with_bad_var(uint64_t seed, bool infer_first) {
  BadVarGraph b;
  Rng rng(seed);
  Value* x = b.g.add_input("x", {kiln::ir::kBatch, 3, 4, 4});
  b.conv = add_conv(b.g, rng, "conv", x, 3, 2, true);
  Value* bn = add_bn(b.g, rng, "bn", b.conv, 2);
  b.g.set_outputs({bn});
  if (infer_first) kiln::ir::infer_shapes(b.g, ops());
  b.g.set_input(bn->producer, 2, b.g.add_param("bad_var", Tensor({2}, {0.5f, -1.0f})));
  return b;
}

TEST_CASE("a BN whose var + eps is not positive is refused before any pass runs, naming it") {
  // batchnorm's validate() rejects it at load, so neither an unfused run (NaN)
  // nor the fold (fold_bn_weights throws too: fold_bn_weights_test.cpp) ever sees it.
  Graph g = conv_bn_with_bad_var(30, false).g;

  CHECK_THROWS_WITH_AS(kiln::ir::infer_shapes(g, ops()),
                       doctest::Contains("node 'bn' (batchnorm): running_var 'bad_var': channel 1: "
                                         "running_var + eps must be positive"),
                       kiln::Error);
}

TEST_CASE("a fold refused for var + eps <= 0 leaves the conv's weight as it was") {
  // Reached only by statistics changed after the load's checks; the weight
  // the fold would have rescaled in place must survive the refusal.
  BadVarGraph b = conv_bn_with_bad_var(31, true);
  Graph& g = b.g;
  Value* conv = b.conv;
  const Value* weight = conv->producer->inputs[1];
  const kiln::ir::TensorData before = weight->data->data;

  CHECK_THROWS_WITH_AS(fold_batchnorm(g), doctest::Contains("running_var + eps must be positive"),
                       kiln::Error);
  REQUIRE(conv->producer->inputs[1] == weight);
  CHECK(weight->data->data == before);
}

TEST_CASE("fold_batchnorm rescales weights it alone owns in place, copies shared ones, same values") {
  Graph original = kiln::loaders::builtin_model("resnet18", 4);
  kiln::ir::infer_shapes(original, ops());
  Graph shared = original.clone();  // shares every weight tensor with `original`
  Graph owned = kiln::loaders::builtin_model("resnet18", 4);
  kiln::ir::infer_shapes(owned, ops());
  std::vector<kiln::ir::TensorData> before;
  for (const auto& node : original.nodes())
    if (node->op == "conv2d") before.push_back(node->inputs[1]->data->data);

  fold_batchnorm(shared);
  fold_batchnorm(owned);

  size_t i = 0;
  for (const auto& node : original.nodes()) {
    if (node->op != "conv2d") continue;
    CAPTURE(node->name);
    CHECK(node->inputs[1]->data->data == before[i++]);  // the shared original is untouched
  }
  std::vector<const Node*> a, b;
  for (const auto& node : shared.nodes())
    if (node->op == "conv2d") a.push_back(node.get());
  for (const auto& node : owned.nodes())
    if (node->op == "conv2d") b.push_back(node.get());
  REQUIRE(a.size() == 20);
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    CAPTURE(a[k]->name);
    CHECK(a[k]->inputs[1]->data->data == b[k]->inputs[1]->data->data);
    CHECK(a[k]->inputs[2]->data->data == b[k]->inputs[2]->data->data);
    CHECK(a[k]->inputs[1]->data->data != before[k]);  // and it was rescaled
  }
}

TEST_CASE("fold_batchnorm folds all three BNs of the FX tutorial's model") {
  Graph g = kiln::loaders::builtin_model("tutorial", 1);
  kiln::ir::infer_shapes(g, ops());
  REQUIRE(g.count_op("batchnorm") == 3);

  PassReport r = fold_and_compare(g, random_input({5, 1, 1, 1}, 8));
  CHECK(r.changed == std::vector<std::string>{"bn1 into conv1", "nested.0 into conv2",
                                              "wrapped.mod into nested.1"});
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.count_op("conv2d") == 3);
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "nested.1");
}

TEST_CASE("fold_batchnorm folds all 20 BNs of resnet18 and keeps its outputs") {
  Graph g = kiln::loaders::builtin_model("resnet18", 2);
  kiln::ir::infer_shapes(g, ops());
  REQUIRE(g.count_op("batchnorm") == 20);

  PassReport r = fold_and_compare(g, random_input({2, 3, 224, 224}, 9));
  CHECK(r.changed.size() == 20);
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.count_op("conv2d") == 20);
  for (const auto& node : g.nodes()) {
    if (node->op == "conv2d") CHECK(node->inputs.size() == 3);
  }
}

}  // namespace
