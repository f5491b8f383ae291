#include "passes/fuse_conv_add.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/verify_fusion.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

// Runs fuse_conv_add (verify after it) and checks every output against the graph before.
PassReport fuse_and_compare(Graph& g, const std::vector<Tensor>& inputs) {
  return kiln::test::pass_and_compare(g, {"fuse_conv_add", kiln::passes::fuse_conv_add}, inputs);
}

// inplace_input() of every conv2d_add step of `g` compiled for `batch`, in order.
std::vector<int> conv_add_inplace(const Graph& g, int64_t batch) {
  kiln::engine::Plan plan = kiln::engine::compile(g, batch);
  std::vector<int> out;
  for (const kiln::engine::StepInfo& step : plan.steps()) {
    if (step.op == "conv2d_add") out.push_back(step.inplace_input);
  }
  return out;
}

// A ResNet block's tail: y = relu(conv(relu(conv0(x))) + x).
Graph block() {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 8, 7, 9});
  Value* h = g.add_node("relu0", "relu", {add_conv(g, "conv0", x, 8, 8, 1)})->output;
  Value* sum = g.add_node("add", "add", {add_conv(g, "conv", h, 8, 8, 3), x})->output;
  g.set_outputs({g.add_node("relu", "relu", {sum})->output});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

}  // namespace

TEST_CASE("fuse_conv_add turns conv -> add into one conv2d_add named after the conv") {
  Graph g = block();
  REQUIRE(g.nodes().size() == 5);
  PassReport r = fuse_and_compare(g, {random_tensor({2, 8, 7, 9}, 10)});
  CHECK(r.changed == std::vector<std::string>{"conv + add into conv2d_add 'conv'"});
  CHECK(r.skipped.empty());
  REQUIRE(r.replaced.size() == 1);
  CHECK(r.replaced[0] == std::make_pair(std::string("add"), std::string("conv")));
  REQUIRE(g.nodes().size() == 4);
  const Node* fused = g.nodes()[2].get();
  CHECK(fused->name == "conv");
  CHECK(fused->op == "conv2d_add");
  CHECK(std::get<std::string>(fused->attrs.at("activation")) == "none");
  REQUIRE(fused->inputs.size() == 4);
  CHECK(fused->inputs[0]->name == "relu0");
  CHECK(fused->inputs[1]->name == "x");
  CHECK(fused->inputs[2]->name == "conv.weight");
  // The closing relu is fuse_conv_activation's: it stays, reading the fused node.
  CHECK(g.nodes()[3]->op == "relu");
  CHECK(g.nodes()[3]->inputs[0] == fused->output);
  CHECK(g.count_op("add") == 0);
  // conv0 read x earlier, so the fused node is x's last reader: in place.
  CHECK(conv_add_inplace(g, 2) == std::vector<int>{1});
}

TEST_CASE("fuse_conv_add takes the conv from operand b and leaves out a relu the add shares") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 5});
  Value* r = g.add_node("pool", "max_pool2d", {x},
                        {{"kernel", std::vector<int64_t>{1, 1}}})->output;
  Value* sum = g.add_node("add", "add", {r, add_conv(g, "conv", x, 6, 6, 11)})->output;
  Value* relu = g.add_node("relu", "relu", {sum})->output;
  g.set_outputs({relu, sum});
  kiln::ir::infer_shapes(g, ops());

  PassReport rep = fuse_and_compare(g, {random_tensor({3, 6, 5, 5}, 12)});
  CHECK(rep.changed == std::vector<std::string>{"conv + add into conv2d_add 'conv'"});
  CHECK(rep.replaced[0] == std::make_pair(std::string("add"), std::string("conv")));
  const Node* fused = g.find_node("conv");
  REQUIRE(fused != nullptr);
  CHECK(fused->op == "conv2d_add");
  CHECK(std::get<std::string>(fused->attrs.at("activation")) == "none");
  CHECK(fused->inputs[1]->name == "pool");
  CHECK(g.count_op("relu") == 1);
}

TEST_CASE("fuse_conv_add skips an add whose convs have other users") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* a = add_conv(g, "a", x, 4, 4, 20);
  Value* b = add_conv(g, "b", x, 4, 4, 22);
  Value* sum = g.add_node("add", "add", {a, b})->output;
  Value* relu = g.add_node("relu", "relu", {sum})->output;
  g.set_outputs({relu, g.add_node("relu_a", "relu", {a})->output, b});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {random_tensor({2, 4, 6, 6}, 23)});
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "add");
  CHECK(r.skipped[0].reason ==
        "neither operand is a conv2d to fuse: a: conv2d 'a' has 2 users; b: conv2d 'b' is also a "
        "graph output");
  CHECK(g.count_op("add") == 1);
  CHECK(g.count_op("relu") == 2);
  CHECK(g.count_op("conv2d_add") == 0);
}

TEST_CASE("fuse_conv_add skips adds of graph inputs, of a conv read twice, and after a relu") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* y = g.add_input("y", {kiln::ir::kBatch, 4, 6, 6});
  Value* s0 = g.add_node("add0", "add", {x, y})->output;
  Value* c = add_conv(g, "c", s0, 4, 4, 30);
  Value* s1 = g.add_node("add1", "add", {c, c})->output;
  Value* r = g.add_node("relu", "relu", {add_conv(g, "d", s1, 4, 4, 32)})->output;
  g.set_outputs({g.add_node("add2", "add", {r, s1})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport rep = fuse_and_compare(g, {random_tensor({2, 4, 6, 6}, 33),
                                       random_tensor({2, 4, 6, 6}, 34)});
  CHECK(rep.changed.empty());
  REQUIRE(rep.skipped.size() == 3);
  CHECK(rep.skipped[0].reason ==
        "neither operand is a conv2d to fuse: a: 'x' is a graph input; b: 'y' is a graph input");
  CHECK(rep.skipped[1].reason ==
        "neither operand is a conv2d to fuse: a: conv2d 'c' has 2 users; b: conv2d 'c' has 2 "
        "users");
  CHECK(rep.skipped[2].reason ==
        "neither operand is a conv2d to fuse: a: 'relu' is produced by relu, not conv2d; b: "
        "'add1' is produced by add, not conv2d");
}

TEST_CASE("fuse_conv_add skips a conv that applies relu before the add") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* c = add_conv(g, "c", x, 4, 4, 40);
  g.find_node("c")->attrs["activation"] = std::string("relu");
  g.set_outputs({g.add_node("add", "add", {c, x})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {random_tensor({2, 4, 6, 6}, 41)});
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "neither operand is a conv2d to fuse: a: conv2d 'c' applies relu before the add; b: 'x' "
        "is a graph input");
}

TEST_CASE("fuse_conv_add skips a broadcast add and an add of a parameter") {
  // conv(x) + gate, gate [N, 4, 1, 1]; conv(x) + bias, bias a [4, 1, 1] parameter.
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* gate = g.add_node("pool", "global_avg_pool2d", {x})->output;
  Value* s0 = g.add_node("add0", "add", {add_conv(g, "c0", x, 4, 4, 70), gate})->output;
  Value* bias = g.add_param("bias", random_tensor({4, 1, 1}, 71));
  Value* s1 = g.add_node("add1", "add", {bias, add_conv(g, "c1", x, 4, 4, 72)})->output;
  g.set_outputs({g.add_node("relu0", "relu", {s0})->output, s1});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {random_tensor({2, 4, 6, 6}, 73)});
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].node == "add0");
  CHECK(r.skipped[0].reason == "a broadcast add: a 'c0' [N, 4, 6, 6], b 'pool' [N, 4, 1, 1]");
  CHECK(r.skipped[1].node == "add1");
  CHECK(r.skipped[1].reason == "operand 'bias' is a parameter, not a residual");
  CHECK(g.count_op("add") == 2);
  CHECK(g.count_op("conv2d_add") == 0);
}

TEST_CASE("a conv2d_add whose residual is read later adds it through a binary post-op, right") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 8, 7, 9});
  Value* res = add_conv(g, "res", x, 8, 16, 50, 1);
  Value* sum = g.add_node("add", "add", {add_conv(g, "conv", x, 8, 16, 52), res})->output;
  Value* relu = g.add_node("relu", "relu", {sum})->output;
  // `res` is read again after the add: the fused node must not overwrite it.
  g.set_outputs({g.add_node("after", "add", {relu, res})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {random_tensor({2, 8, 7, 9}, 53)});
  CHECK(r.changed.size() == 1);
  CHECK(g.count_op("conv2d_add") == 1);
  CHECK(conv_add_inplace(g, 2) == std::vector<int>{-1});
}

TEST_CASE("engine::fuse(all) leaves ResNet18 with no batchnorm, relu or add and 8 conv2d_add") {
  Graph unfused = kiln::engine::load_model("resnet18", 3);
  Graph fused = unfused.clone();
  std::vector<PassReport> reports = kiln::engine::fuse(fused, kiln::engine::FuseLevel::all);
  REQUIRE(reports.size() == 7);
  CHECK(reports[0].pass == "fold_batchnorm");
  CHECK(reports[1].pass == "fuse_swish");
  CHECK(reports[2].pass == "fuse_concat_batchnorm");
  CHECK(reports[3].pass == "fuse_conv_add");
  CHECK(reports[4].pass == "fuse_conv_activation");
  CHECK(reports[5].pass == "fuse_channel_shuffle");
  CHECK(reports[6].pass == "fuse_squeeze_excite");
  for (const PassReport& r : reports) CHECK(r.skipped.empty());
  CHECK(fused.count_op("batchnorm") == 0);
  CHECK(fused.count_op("relu") == 0);
  CHECK(fused.count_op("add") == 0);
  CHECK(fused.count_op("conv2d_add") == 8);
  CHECK(fused.count_op("conv2d") == 12);
  CHECK(fused.nodes().size() == 24);
  // Every block's residual dies at its conv2d_add: all eight add in place.
  CHECK(conv_add_inplace(fused, 2) == std::vector<int>(8, 1));

  Tensor x = random_tensor({2, 3, 224, 224}, 60);
  Tensor want = kiln::engine::run_graph(unfused, {x})[0];
  Tensor got = kiln::engine::run_graph(fused, {x})[0];
  CHECK(relative_error(got, want) < 1e-4);
}

TEST_CASE("check_fusion finds every node of ResNet18 fused at level all equal to its original") {
  Graph unfused = kiln::engine::load_model("resnet18", 4);
  Graph fused = unfused.clone();
  std::vector<PassReport> reports = kiln::engine::fuse(fused, kiln::engine::FuseLevel::all);
  kiln::engine::FusionCheck check =
      kiln::engine::check_fusion(unfused, fused, reports, {random_tensor({1, 3, 224, 224}, 61)});
  CHECK(check.nodes.size() == fused.nodes().size());
  const kiln::engine::NodeCheck* bad = check.first_failure();
  CHECK_MESSAGE(bad == nullptr, (bad ? bad->node + " vs " + bad->reference : std::string()));
  // The block's fused node stands for the block's closing relu.
  bool found = false;
  for (const kiln::engine::NodeCheck& n : check.nodes) {
    if (n.node == "layer1.0.conv2") found = n.reference == "layer1.0.relu_1";
  }
  CHECK(found);
}
