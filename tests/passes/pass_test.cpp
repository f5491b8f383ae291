#include "passes/pass.h"

#include <doctest/doctest.h>

#include "ir/error.h"
#include "ir/verify.h"
#include "ops/registry.h"

namespace {

using kiln::ir::Graph;
using kiln::passes::Pass;
using kiln::passes::PassReport;

Graph relu_graph() {
  Graph g;
  kiln::ir::Value* x = g.add_input("x", {kiln::ir::kBatch, 2, 3, 3});
  g.set_outputs({g.add_node("relu", "relu", {x})->output});
  kiln::ir::infer_shapes(g, kiln::ops::registry().schemas());
  return g;
}

PassReport add_second_relu(Graph& g) {
  kiln::ir::Node* relu2 = g.add_node(g.unique_name("relu2"), "relu", {g.outputs()[0]});
  relu2->output->shape = relu2->inputs[0]->shape;
  g.set_outputs({relu2->output});
  PassReport r;
  r.changed.push_back("relu2 after relu");
  return r;
}

// Leaves a node whose output shape was never inferred.
PassReport add_unshaped_relu(Graph& g) {
  g.add_node("bad", "relu", {g.outputs()[0]});
  return {};
}

TEST_CASE("run_passes runs the passes in order and returns one report each, named") {
  Graph g = relu_graph();
  std::vector<PassReport> reports = kiln::passes::run_passes(
      g, {{"first", add_second_relu}, {"second", add_second_relu}},
      kiln::ops::registry().schemas());
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].pass == "first");
  CHECK(reports[1].pass == "second");
  CHECK(reports[0].changed == std::vector<std::string>{"relu2 after relu"});
  CHECK(g.count_op("relu") == 3);
  CHECK(g.outputs()[0]->name == "relu2_1");
}

TEST_CASE("run_passes throws naming the pass when the graph fails verify after it") {
  Graph g = relu_graph();
  CHECK_THROWS_WITH_AS(
      kiln::passes::run_passes(g, {{"ok", add_second_relu}, {"breaks_shapes", add_unshaped_relu}},
                               kiln::ops::registry().schemas()),
      doctest::Contains("pass 'breaks_shapes': node 'bad' (relu): output shape"), kiln::Error);
}

}  // namespace
