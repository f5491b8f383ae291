#include "passes/fuse_conv_activation.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "passes/fuse_conv_add.h"
#include "tests/ops/activation_cases.h"
#include "tests/ops/reference.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

// Runs fuse_conv_activation (verify after it) and checks every output against the graph before.
PassReport fuse_and_compare(Graph& g, const kiln::ir::Shape& x_shape, double rtol = 1e-5) {
  return kiln::test::pass_and_compare(
      g, {"fuse_conv_activation", kiln::passes::fuse_conv_activation},
      {random_tensor(x_shape, 77)}, rtol);
}

// producer -> activation `a` with x [N, 6, 5, 7] a graph input; the producer
// is "conv", a conv2d, a conv2d_add (its residual the graph input "r") or a
// linear (over the last dim).
Graph producer_then(const std::string& producer, const kiln::test::ActivationCase& a) {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
  Value* y = nullptr;
  if (producer == "conv2d") {
    y = add_conv(g, "conv", x, 6, 6, 21);
  } else if (producer == "conv2d_add") {
    Value* w = g.add_param("w", random_tensor({6, 6, 3, 3}, 22, -0.3, 0.3));
    Value* b = g.add_param("b", random_tensor({6}, 23, -0.3, 0.3));
    y = g.add_node("conv", "conv2d_add", {x, x, w, b},
                   {{"padding", std::vector<int64_t>{1, 1}}})->output;
  } else {
    Value* w = g.add_param("w", random_tensor({9, 7}, 24, -0.5, 0.5));
    y = g.add_node("conv", "linear", {x, w})->output;
  }
  g.set_outputs({g.add_node("act", a.op, {y}, a.attrs)->output});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

// DenseNet's transition: concat(a [N, 3, 5, 7], b [N, 13, 5, 7]) -> batchnorm "bn"
// (randomised statistics and affine parameters) -> activation `a` "act".
Graph concat_batchnorm_then(const kiln::test::ActivationCase& a) {
  Graph g;
  Value* cat = g.add_node("cat", "concat",
                          {g.add_input("a", {kiln::ir::kBatch, 3, 5, 7}),
                           g.add_input("b", {kiln::ir::kBatch, 13, 5, 7})},
                          {{"axis", int64_t{1}}})
                   ->output;
  Value* bn = g.add_node("bn", "batchnorm",
                         {cat, g.add_param("bn.running_mean", random_tensor({16}, 31, -0.5, 0.5)),
                          g.add_param("bn.running_var", random_tensor({16}, 32, 0.3, 2.0)),
                          g.add_param("bn.weight", random_tensor({16}, 33, 0.5, 1.5)),
                          g.add_param("bn.bias", random_tensor({16}, 34, -0.5, 0.5))})
                  ->output;
  g.set_outputs({g.add_node("act", a.op, {bn}, a.attrs)->output});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

}  // namespace

TEST_CASE("fuse_conv_activation turns conv2d -> relu into one conv2d with activation relu") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 5, 9, 7});
  Value* conv = add_conv(g, "conv", x, 5, 6, 1);
  g.set_outputs({g.add_node("relu", "relu", {conv})->output});
  kiln::ir::infer_shapes(g, ops());
  REQUIRE(g.nodes().size() == 2);

  PassReport r = fuse_and_compare(g, {2, 5, 9, 7});
  CHECK(r.changed == std::vector<std::string>{"relu (relu) into conv"});
  CHECK(r.skipped.empty());
  REQUIRE(r.replaced.size() == 1);
  CHECK(r.replaced[0] == std::make_pair(std::string("relu"), std::string("conv")));
  REQUIRE(g.nodes().size() == 1);
  const Node* c = g.nodes()[0].get();
  CHECK(c->op == "conv2d");
  CHECK(std::get<std::string>(c->attrs.at("activation")) == "relu");
  CHECK(g.outputs()[0] == c->output);
}

TEST_CASE("fuse_conv_activation points the relu's users at the conv") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* relu = g.add_node("relu", "relu", {add_conv(g, "conv1", x, 4, 4, 2)})->output;
  Value* relu2 = g.add_node("relu2", "relu", {add_conv(g, "conv2", relu, 4, 4, 4)})->output;
  g.set_outputs({g.add_node("pool", "max_pool2d", {relu2},
                            {{"kernel", std::vector<int64_t>{2, 2}}})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {1, 4, 6, 6});
  CHECK(r.changed == std::vector<std::string>{"relu (relu) into conv1", "relu2 (relu) into conv2"});
  CHECK(g.count_op("relu") == 0);
  CHECK(g.find_node("conv2")->inputs[0] == g.find_node("conv1")->output);
  CHECK(g.find_node("pool")->inputs[0] == g.find_node("conv2")->output);
}

TEST_CASE("fuse_conv_activation skips a conv whose output has two users") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, "conv", x, 3, 4, 3);
  Value* relu = g.add_node("relu", "relu", {conv})->output;
  g.set_outputs({g.add_node("add", "add", {relu, conv})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {2, 3, 8, 8});
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "relu");
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' has 2 users (relu, add); fusing would change what the "
        "others read");
  CHECK(g.count_op("relu") == 1);
  CHECK(g.find_node("conv")->attrs.count("activation") == 0);
}

TEST_CASE("fuse_conv_activation skips a conv whose output is also a graph output") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, "conv", x, 3, 4, 5);
  g.set_outputs({conv, g.add_node("relu", "relu", {conv})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {2, 3, 8, 8});
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' is also a graph output; fusing would change it");
  CHECK(g.count_op("relu") == 1);
}

TEST_CASE("fuse_conv_activation skips relus after a graph input, a pool, and a conv that has one") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* r0 = g.add_node("relu0", "relu", {x})->output;
  Value* pool = g.add_node("pool", "max_pool2d", {r0}, {{"kernel", std::vector<int64_t>{2, 2}}})
                    ->output;
  Value* r1 = g.add_node("relu1", "relu", {pool})->output;
  Value* r2 = g.add_node("relu2", "relu", {add_conv(g, "conv", r1, 3, 4, 6)})->output;
  g.set_outputs({g.add_node("relu3", "relu", {r2})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {2, 3, 8, 8});
  CHECK(r.changed == std::vector<std::string>{"relu2 (relu) into conv"});
  REQUIRE(r.skipped.size() == 3);
  CHECK(r.skipped[0].reason ==
        "input 'x' is a graph input, not produced by conv2d, conv2d_add, linear, batchnorm or concat_batchnorm");
  CHECK(r.skipped[1].reason ==
        "input 'pool' is produced by max_pool2d, not conv2d, conv2d_add, linear, batchnorm or concat_batchnorm");
  CHECK(r.skipped[2].node == "relu3");
  CHECK(r.skipped[2].reason == "conv2d 'conv' already applies relu");
}

TEST_CASE("fuse_conv_activation moves a relu into a conv2d_add that has none") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* r = g.add_input("r", {kiln::ir::kBatch, 5, 6, 6});
  Value* conv = g.add_node("conv", "conv2d_add",
                           {x, r, g.add_param("w", random_tensor({5, 4, 3, 3}, 8, -0.3, 0.3))},
                           {{"padding", std::vector<int64_t>{1, 1}}})
                    ->output;
  g.set_outputs({g.add_node("relu", "relu", {conv})->output});
  kiln::ir::infer_shapes(g, ops());

  Graph original = g.clone();
  kiln::passes::run_passes(g, {{"fuse_conv_activation", kiln::passes::fuse_conv_activation}}, ops());
  REQUIRE(g.nodes().size() == 1);
  CHECK(std::get<std::string>(g.nodes()[0]->attrs.at("activation")) == "relu");
  std::vector<Tensor> in = {random_tensor({2, 4, 6, 6}, 9), random_tensor({2, 5, 6, 6}, 10)};
  CHECK(relative_error(kiln::engine::run_graph(g, in)[0],
                       kiln::engine::run_graph(original, in)[0]) < 1e-5);
}

TEST_CASE("fuse_conv_activation skips a conv2d_add whose output has two users") {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 6, 6});
  Value* a = add_conv(g, "a", x, 4, 4, 7);
  Value* sum = g.add_node("add", "add", {a, x})->output;
  Value* pool = g.add_node("pool", "max_pool2d", {sum}, {{"kernel", std::vector<int64_t>{2, 2}}})
                    ->output;
  g.set_outputs({g.add_node("relu", "relu", {sum})->output, pool});
  kiln::ir::infer_shapes(g, ops());
  // conv + add fuse, but the add has two users, so its relu stays outside.
  kiln::passes::run_passes(g, {{"fuse_conv_add", kiln::passes::fuse_conv_add}}, ops());
  REQUIRE(g.count_op("conv2d_add") == 1);
  REQUIRE(g.count_op("relu") == 1);

  PassReport r = fuse_and_compare(g, {2, 4, 6, 6});
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "the output of conv2d_add 'a' has 2 users (pool, relu); fusing would change what the "
        "others read");
}

TEST_CASE("fuse_conv_activation moves every activation into conv2d, conv2d_add and linear") {
  for (const kiln::test::ActivationCase& a : kiln::test::activation_cases()) {
    for (const char* producer : {"conv2d", "conv2d_add", "linear"}) {
      CAPTURE(kiln::test::case_name(a));
      CAPTURE(producer);
      Graph g = producer_then(producer, a);
      const kiln::ir::Attrs before = g.nodes()[0]->attrs;
      REQUIRE(g.nodes().size() == 2);
      // Fused and unfused run the same oneDNN approximation; 1e-5 of the output leaves room
      // for the post-op's vectorised form.
      PassReport r = fuse_and_compare(g, {2, 6, 5, 7}, 1e-5);
      CHECK(r.changed == std::vector<std::string>{"act (" + a.op + ") into conv"});
      CHECK(r.skipped.empty());
      REQUIRE(g.nodes().size() == 1);
      const Node* fused = g.nodes()[0].get();
      CHECK(fused->op == producer);
      CHECK(g.outputs()[0] == fused->output);
      CHECK(fused->attrs == kiln::test::with_activation(before, a));
      size_t prefixed = 0;
      for (const auto& kv : fused->attrs) prefixed += kv.first.rfind("activation_", 0) == 0;
      CHECK(prefixed == a.attrs.size());
    }
  }
}

TEST_CASE("fuse_conv_activation skips an activation after a linear that already has one") {
  Graph g = producer_then("linear", kiln::test::activation_cases()[4]);  // sigmoid
  Value* y = g.outputs()[0];
  g.set_outputs({g.add_node("act2", "tanh", {y})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fuse_and_compare(g, {2, 6, 5, 7});
  CHECK(r.changed == std::vector<std::string>{"act (sigmoid) into conv"});
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "act2");
  CHECK(r.skipped[0].reason == "linear 'conv' already applies sigmoid");
  CHECK(g.count_op("tanh") == 1);
}

TEST_CASE("fuse_conv_activation moves relu and leaky_relu into a batchnorm after a concat") {
  for (const kiln::test::ActivationCase& a : kiln::test::activation_cases()) {
    if (a.op != "relu" && a.op != "leaky_relu") continue;
    CAPTURE(kiln::test::case_name(a));
    Graph g = concat_batchnorm_then(a);
    const std::vector<Tensor> in = {random_tensor({2, 3, 5, 7}, 35),
                                    random_tensor({2, 13, 5, 7}, 36)};
    PassReport r = kiln::test::pass_and_compare(
        g, {"fuse_conv_activation", kiln::passes::fuse_conv_activation}, in);
    CHECK(r.changed == std::vector<std::string>{"act (" + a.op + ") into bn"});
    CHECK(r.skipped.empty());
    REQUIRE(g.nodes().size() == 2);
    const Node* bn = g.nodes()[1].get();
    CHECK(bn->op == "batchnorm");
    CHECK(g.outputs()[0] == bn->output);
    CHECK(bn->attrs == kiln::test::with_activation({}, a));

    // Against the double reference too, not only the unfused graph.
    using kiln::test::to_ref;
    auto param = [&](const char* name) { return to_ref(*g.find_value(name)->data); };
    kiln::test::RefTensor gamma = param("bn.weight"), beta = param("bn.bias");
    kiln::test::RefTensor want = kiln::test::ref_activation(
        a.op,
        kiln::test::ref_batchnorm(kiln::test::ref_concat({to_ref(in[0]), to_ref(in[1])}, 1),
                                  param("bn.running_mean"), param("bn.running_var"), &gamma,
                                  &beta, 1e-5),
        a.attrs);
    std::string report;
    CHECK_MESSAGE(
        kiln::test::count_mismatches(kiln::engine::run_graph(g, in)[0], want, 1e-5, report) == 0,
        report);
  }
}

TEST_CASE("fuse_conv_activation leaves an activation other than relu after a batchnorm") {
  for (const kiln::test::ActivationCase& a : kiln::test::activation_cases()) {
    if (a.op == "relu" || a.op == "leaky_relu") continue;
    CAPTURE(kiln::test::case_name(a));
    Graph g = concat_batchnorm_then(a);
    PassReport r = kiln::test::pass_and_compare(
        g, {"fuse_conv_activation", kiln::passes::fuse_conv_activation},
        {random_tensor({2, 3, 5, 7}, 37), random_tensor({2, 13, 5, 7}, 38)});
    CHECK(r.changed.empty());
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].node == "act");
    CHECK(r.skipped[0].reason == "batchnorm 'bn' can apply only relu, leaky_relu as a post-op "
                                 "(oneDNN's limit), not " + a.op);
    CHECK(g.count_op(a.op) == 1);
  }
}

TEST_CASE("fuse_conv_activation leaves silu, sigmoid and gelu after a depthwise conv, fuses the rest") {
  for (const kiln::test::ActivationCase& a : kiln::test::activation_cases()) {
    CAPTURE(kiln::test::case_name(a));
    Graph g;
    Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
    Value* w = g.add_param("dw.weight", random_tensor({6, 1, 3, 3}, 41, -0.5, 0.5));
    Value* b = g.add_param("dw.bias", random_tensor({6}, 42, -0.3, 0.3));
    Value* y = g.add_node("dw", "conv2d", {x, w, b},
                          {{"padding", std::vector<int64_t>{1, 1}}, {"groups", int64_t{6}}})
                   ->output;
    g.set_outputs({g.add_node("act", a.op, {y}, a.attrs)->output});
    kiln::ir::infer_shapes(g, ops());
    PassReport r = fuse_and_compare(g, {2, 6, 5, 7}, std::max(a.rtol, 1e-5));
    const bool apart = a.op == "silu" || a.op == "sigmoid" || a.op == "gelu";
    if (apart) {
      CHECK(r.changed.empty());
      REQUIRE(r.skipped.size() == 1);
      CHECK(r.skipped[0].reason == "conv2d 'dw' is depthwise: " + a.op +
                                       " runs faster as its own step than as a post-op of "
                                       "oneDNN's depthwise kernels");
      CHECK(g.count_op(a.op) == 1);
    } else {
      CHECK(r.changed.size() == 1);
      CHECK(g.count_op(a.op) == 0);
    }
  }
  // An ordinary conv: silu fuses.
  Graph g = producer_then("conv2d", {"silu", {}, 1e-5});
  CHECK(fuse_and_compare(g, {2, 6, 5, 7}, 1e-5).changed.size() == 1);
}
