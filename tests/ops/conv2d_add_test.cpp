#include <doctest/doctest.h>

#include <algorithm>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/activation_cases.h"
#include "tests/engine/temp_cache.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct ConvAddCase {
  const char* name;
  ir::Shape x;       // [N, C, H, W]
  ir::Shape weight;  // [OC, C/groups, KH, KW]
  bool bias;
  std::vector<int64_t> stride, padding;
  int64_t groups;
  const char* activation;
};

const ConvAddCase kCases[] = {
    {"conv2d_add/N=2,C=16,OC=16,K=3,P=1,relu", {2, 16, 9, 11}, {16, 16, 3, 3}, true,
     {1, 1}, {1, 1}, 1, "relu"},
    {"conv2d_add/N=2,C=17,OC=19,K=3,P=1 (padded blocks),none", {2, 17, 9, 11}, {19, 17, 3, 3},
     true, {1, 1}, {1, 1}, 1, "none"},
    {"conv2d_add/N=3,C=8,OC=32,K=1,S=2 (downsample),no bias,relu", {3, 8, 9, 11}, {32, 8, 1, 1},
     false, {2, 2}, {0, 0}, 1, "relu"},
    {"conv2d_add/N=2,C=12,OC=6,K=3,G=3,S=2,P=1,relu", {2, 12, 9, 11}, {6, 4, 3, 3}, true,
     {2, 2}, {1, 1}, 3, "relu"},
    {"conv2d_add/N=1,C=64,OC=64,K=3,P=1,relu", {1, 64, 7, 7}, {64, 64, 3, 3}, true,
     {1, 1}, {1, 1}, 1, "relu"},
};

// The graph y = conv2d_add(x, r, weight, bias?) with x and r graph inputs;
// with `residual_is_output`, r is also a graph output, so it outlives y.
ir::Graph conv_add_graph(const ConvAddCase& c, const ir::Shape& r_shape, uint64_t seed,
                         bool residual_is_output) {
  ir::Tensor bias = random_tensor({c.weight[0]}, seed + 1);
  ir::Attrs attrs = {{"stride", c.stride}, {"padding", c.padding}, {"groups", c.groups},
                     {"activation", std::string(c.activation)}};
  return conv2d_add_graph(c.x, r_shape, random_tensor(c.weight, seed), c.bias ? &bias : nullptr,
                          attrs, residual_is_output);
}

RefTensor reference(const ConvAddCase& c, const ir::Graph& g, const ir::Tensor& x,
                    const ir::Tensor& r) {
  const ir::Node* node = g.find_node("conv");
  RefTensor rb = c.bias ? to_ref(*node->inputs[3]->data) : RefTensor{};
  RefTensor y = ref_conv2d(to_ref(x), to_ref(*node->inputs[2]->data), c.bias ? &rb : nullptr,
                           c.stride, c.padding, {1, 1}, c.groups);
  y = ref_add(y, to_ref(r));
  return std::string(c.activation) == "relu" ? ref_relu(y) : y;
}

// inplace_input() of the plan's conv2d_add step.
int inplace_of(const engine::Plan& plan) {
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op == "conv2d_add") return step.inplace_input;
  }
  FAIL("the plan has no conv2d_add step");
  return -2;
}

// Runs every case with the residual dying at the node or outliving it.
void check_cases(bool residual_is_output, int expected_inplace) {
  uint64_t seed = 300;
  for (const ConvAddCase& c : kCases) {
    INFO(std::string(c.name));
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Shape y_shape = {c.x[0], c.weight[0], (c.x[2] + 2 * c.padding[0] - c.weight[2]) / c.stride[0] + 1,
                         (c.x[3] + 2 * c.padding[1] - c.weight[3]) / c.stride[1] + 1};
    ir::Tensor r = random_tensor(y_shape, ++seed);
    ir::Graph g = conv_add_graph(c, y_shape, ++seed, residual_is_output);
    engine::Plan plan = engine::compile(g, c.x[0]);
    CHECK(inplace_of(plan) == expected_inplace);
    engine::Context ctx(plan);
    std::vector<ir::Tensor> got = ctx.run({x, r});
    got = ctx.run({x, r});  // a second run must not see the first one's residual
    // Up to 576 products of magnitude ~1 per output: float rounding reaches
    // ~1e-5 of outputs near 1, so the tolerance is 1e-4 (relative, at least absolute).
    std::string report;
    CHECK_MESSAGE(count_mismatches(got[0], reference(c, g, x, r), 1e-4, report) == 0, report);
    if (residual_is_output) CHECK(got[1].data == r.data);
  }
}

}  // namespace

TEST_CASE("conv2d_add adds the residual in place (sum post-op) when nothing reads it later") {
  check_cases(false, 1);
}

TEST_CASE("conv2d_add reads the residual through a binary post-op when it is read later") {
  check_cases(true, -1);
}

TEST_CASE("conv2d_add does not overwrite x when x is also the residual, at every conv algorithm") {
  const TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  // y = relu(conv(h) + h), h = relu(x): h dies at the node, so the residual
  // could be summed in place, but its buffer is also the conv's input. 64
  // channels, 3x3, stride 1: every Winograd kernel can take it.
  ConvAddCase c = {"x is the residual", {2, 64, 8, 8}, {64, 64, 3, 3}, true, {1, 1}, {1, 1}, 1,
                   "relu"};
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 64, 8, 8});
  ir::Value* h = g.add_node("h", "relu", {x})->output;
  ir::Node* node = g.add_node("conv", "conv2d_add",
                              {h, h, g.add_param("w", random_tensor(c.weight, 1)),
                               g.add_param("b", random_tensor({64}, 2))},
                              {{"padding", c.padding}, {"activation", std::string("relu")}});
  g.set_outputs({node->output});
  ir::infer_shapes(g, ops::registry().schemas());

  ir::Tensor xt = random_tensor(c.x, 3);
  ir::Tensor ht(xt.shape, ir::TensorData(xt.data.begin(), xt.data.end()));
  for (float& v : ht.data) v = std::max(v, 0.f);
  RefTensor want = reference(c, g, ht, ht);
  for (ops::ConvAlgo algo : {ops::ConvAlgo::direct, ops::ConvAlgo::winograd,
                             ops::ConvAlgo::kiln_winograd, ops::ConvAlgo::auto_,
                             ops::ConvAlgo::tune}) {
    INFO(ops::conv_algo_name(algo));
    engine::Plan plan = engine::compile(g, 2, {algo});
    CHECK(inplace_of(plan) == -1);
    engine::Context ctx(plan);
    ir::Tensor y = ctx.run({xt})[0];
    // Winograd's transforms scale by up to 8 before values cancel: 1e-4 of the
    // largest output (as conv_algo_test), element by element for direct.
    if (algo == ops::ConvAlgo::direct) {
      std::string report;
      CHECK_MESSAGE(count_mismatches(y, want, 1e-4, report) == 0, report);
    } else {
      check_close(y, want, 1e-4);
    }
  }
}

TEST_CASE("conv2d_add rejects a residual that is not the conv's output shape") {
  CHECK(validate_error("conv2d_add", {{2, 3, 9, 11}, {2, 5, 9, 11}}, {{5, 3, 3, 3}}) ==
        "node 'node' (conv2d_add): residual 'x1': expected the conv's output shape [N, 5, 7, 9], "
        "got [N, 5, 9, 11]");
}

TEST_CASE("conv2d_add rejects a parameter as the residual and an unknown activation") {
  CHECK(validate_error("conv2d_add", {{2, 3, 9, 11}}, {{2, 5, 7, 9}, {5, 3, 3, 3}}) ==
        "node 'node' (conv2d_add): input 1 (residual) 'p0' must be an activation, got a parameter");
  CHECK(validate_error("conv2d_add", {{2, 3, 9, 11}, {2, 5, 7, 9}}, {{5, 3, 3, 3}},
                       {{"activation", std::string("gelu_new")}}) ==
        "node 'node' (conv2d_add): attribute 'activation': expected one of \"none\", \"relu\", "
        "\"clamp\", \"sigmoid\", \"silu\", \"hardswish\", \"hardsigmoid\", \"tanh\", \"gelu\", "
        "\"leaky_relu\", \"elu\", got \"gelu_new\"");
}

TEST_CASE("conv2d_add applies every activation after the residual add, matching the reference") {
  uint64_t seed = 500;
  for (const ActivationCase& a : activation_cases()) {
    for (bool residual_is_output : {false, true}) {  // sum post-op, binary post-op
      CAPTURE(case_name(a));
      CAPTURE(residual_is_output);
      ConvAddCase c = {"C=17,OC=19,K=3,P=1", {2, 17, 9, 11}, {19, 17, 3, 3}, true, {1, 1},
                       {1, 1}, 1, "none"};
      ir::Tensor x = random_tensor(c.x, ++seed);
      ir::Tensor r = random_tensor({2, 19, 9, 11}, ++seed);
      ir::Tensor bias = random_tensor({19}, ++seed);
      ir::Graph g = conv2d_add_graph(c.x, {ir::kBatch, 19, 9, 11},
                                     random_tensor(c.weight, ++seed, -0.3, 0.3), &bias,
                                     with_activation({{"padding", c.padding}}, a),
                                     residual_is_output);
      engine::Plan plan = engine::compile(g, 2);
      CHECK(inplace_of(plan) == (residual_is_output ? -1 : 1));
      std::vector<ir::Tensor> got = engine::Context(plan).run({x, r});
      RefTensor want = ref_activation(a.op, reference(c, g, x, r), a.attrs);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got[0], want, 1e-4, report) == 0, report);
    }
  }
}
