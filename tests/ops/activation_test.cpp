// The activation ops (relu, clamp, sigmoid, silu, hardswish, hardsigmoid,
// tanh, gelu, leaky_relu, elu: ops/<name>.cpp) and their shared table
// (ops/activation.cpp), standalone and as post-op steps.
#include "ops/activation.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "tests/ops/activation_cases.h"
#include "tests/ops/reference.h"
#include "tests/passes/graph_builders.h"

using namespace kiln;
using namespace kiln::test;
using tag = dnnl::memory::format_tag;

namespace {

using Case = ActivationCase;
const std::vector<Case>& cases() { return activation_cases(); }
std::string name(const Case& c) { return case_name(c); }

}  // namespace

TEST_CASE("every activation matches the double reference on odd shapes of rank 1 to 4") {
  for (const Case& c : cases()) {
    for (const ir::Shape& shape : {ir::Shape{2, 5, 9, 11}, ir::Shape{3, 7, 13}, ir::Shape{3, 37},
                                   ir::Shape{17}}) {
      CAPTURE(name(c));
      CAPTURE(ir::shape_str(shape));
      ir::Tensor x = random_tensor(shape, 31, -7, 7);
      ir::Tensor got = run_op(c.op, {x}, {}, c.attrs);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, ref_activation(c.op, to_ref(x), c.attrs), c.rtol,
                                     report) == 0,
                    report);
    }
  }
}

TEST_CASE("every activation runs in nChw16c, nChw8c, nhwc and nchw without asking for a reorder") {
  const ir::Shape shape = {2, 20, 7, 9};  // 20 channels: a partial block of 16 and of 8
  ir::Tensor x = random_tensor(shape, 32, -7, 7);
  for (const Case& c : cases()) {
    for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc, tag::nchw}) {
      CAPTURE(name(c));
      CAPTURE(int(t));
      dnnl::memory::desc given = layout(shape, t);
      KernelRun run = run_kernel(c.op, {activation(x)}, {given}, c.attrs);
      CHECK(run.asked.at(0) == given);
      CHECK(run.output == given);
      std::string report;
      CHECK_MESSAGE(count_mismatches(run.y, ref_activation(c.op, to_ref(x), c.attrs), c.rtol,
                                     report) == 0,
                    report);
    }
  }
}

TEST_CASE("every activation after a conv2d runs in the conv's layout and matches the reference") {
  const int64_t C = 5, OC = 20;
  ir::Tensor x = random_tensor({2, C, 7, 9}, 33);
  for (const Case& c : cases()) {
    CAPTURE(name(c));
    ir::Graph g;
    ir::Value* conv = add_conv(g, "conv", g.add_input("x", {ir::kBatch, C, 7, 9}), C, OC, 34);
    ir::Node* act = g.add_node("act", c.op, {conv}, c.attrs);
    g.set_outputs({act->output});
    ir::infer_shapes(g, kiln::test::ops());

    engine::Plan plan = engine::compile(g, 2);
    const engine::PlanImpl& impl = engine::plan_impl(plan);
    size_t at = 0;
    while (at < impl.steps.size() && impl.steps[at].op != c.op) ++at;
    REQUIRE(at > 0);
    REQUIRE(at < impl.steps.size());
    CHECK(impl.steps[at - 1].op == "conv2d");
    const auto& conv_layout = impl.tensors.at(size_t(impl.steps[at - 1].output)).desc;
    CHECK(impl.tensors.at(size_t(impl.steps[at].output)).desc == conv_layout);

    ir::Tensor got = engine::Context(plan).run({x}).at(0);
    RefTensor b = to_ref(*g.find_value("conv.bias")->data);
    RefTensor y = ref_conv2d(to_ref(x), to_ref(*g.find_value("conv.weight")->data), &b, {1, 1},
                             {1, 1}, {1, 1}, 1);
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_activation(c.op, y, c.attrs), 1e-5, report) == 0,
                  report);
  }
}

TEST_CASE("every activation matches PyTorch's values around its kinks") {
  // torch 1.13 (float32) at these points, from
  //   x = torch.tensor(points); F.relu6(x), torch.clamp(x, min=-1.0), ...
  const std::vector<float> points = {-10, -6, -3.5f, -3, -2.99999976f, -1,
                                     -0.5f, -0.00100000005f, 0, 0.00100000005f, 0.5f, 1,
                                     2.99999976f, 3, 3.00000024f, 3.5f, 6, 10};
  struct Row {
    std::string op;
    ir::Attrs attrs;
    std::vector<float> torch;
  };
  const std::vector<Row> rows = {
      {"relu", {},
       {0, 0, 0, 0, 0,
        0, 0, 0, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"clamp", {{"min", 0.0}, {"max", 6.0}},
       {0, 0, 0, 0, 0,
        0, 0, 0, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 6}},
      {"clamp", {{"min", -1.0}},
       {-1, -1, -1, -1, -1,
        -1, -0.5f, -0.00100000005f, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"clamp", {{"max", 0.5}},
       {-10, -6, -3.5f, -3, -2.99999976f,
        -1, -0.5f, -0.00100000005f, 0, 0.00100000005f,
        0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
        0.5f, 0.5f, 0.5f}},
      {"sigmoid", {},
       {4.53978719e-05f, 0.00247262302f, 0.0293122306f, 0.0474258736f, 0.047425881f,
        0.268941432f, 0.377540678f, 0.499750018f, 0.5f, 0.500249982f,
        0.622459352f, 0.731058598f, 0.952574134f, 0.952574134f, 0.952574134f,
        0.970687747f, 0.997527421f, 0.999954581f}},
      {"silu", {},
       {-0.000453978719f, -0.0148357386f, -0.102592811f, -0.142277613f, -0.142277628f,
        -0.268941432f, -0.188770339f, -0.000499750022f, 0, 0.000500250026f,
        0.311229676f, 0.731058598f, 2.85772228f, 2.85772252f, 2.85772276f,
        3.39740729f, 5.98516464f, 9.99954605f}},
      {"hardswish", {},
       {-0.f, -0.f, -0.f, -0.f, -1.19209282e-07f,
        -0.333333343f, -0.208333328f, -0.000499833375f, 0, 0.000500166672f,
        0.291666657f, 0.666666687f, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"hardsigmoid", {},
       {0, 0, 0, 0, 3.9736431e-08f,
        0.333333343f, 0.416666657f, 0.499833345f, 0.5f, 0.500166655f,
        0.583333313f, 0.666666687f, 1, 1, 1,
        1, 1, 1}},
      {"tanh", {},
       {-1, -0.999987721f, -0.998177886f, -0.995054781f, -0.995054722f,
        -0.761594176f, -0.462117165f, -0.000999999698f, 0, 0.000999999698f,
        0.462117165f, 0.761594176f, 0.995054722f, 0.995054781f, 0.995054781f,
        0.998177886f, 0.999987721f, 1}},
      {"gelu", {},
       {0, 0, -0.000814333558f, -0.00404986739f, -0.00404986693f,
        -0.158655286f, -0.154268786f, -0.000499601127f, 0, 0.000500398921f,
        0.345731199f, 0.841344714f, 2.99594998f, 2.99595022f, 2.99595046f,
        3.49918556f, 6, 10}},
      {"gelu", {{"approximate", std::string("tanh")}},
       {-0.f, -0.f, -0.000616148114f, -0.00363743305f, -0.00363743282f,
        -0.158807993f, -0.154285997f, -0.000499601068f, 0, 0.000500398979f,
        0.345714003f, 0.841192007f, 2.99636245f, 2.99636269f, 2.99636269f,
        3.49938369f, 6, 10}},
      {"leaky_relu", {},
       {-0.099999994f, -0.0599999987f, -0.0350000001f, -0.0299999993f, -0.0299999975f,
        -0.00999999978f, -0.00499999989f, -1.00000007e-05f, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"leaky_relu", {{"negative_slope", 0.2}},
       {-2, -1.20000005f, -0.699999988f, -0.600000024f, -0.599999964f,
        -0.200000003f, -0.100000001f, -0.000200000009f, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"elu", {},
       {-0.999954581f, -0.997521222f, -0.969802618f, -0.950212955f, -0.950212896f,
        -0.63212055f, -0.393469334f, -0.000999510288f, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
      {"elu", {{"alpha", 0.5}},
       {-0.499977291f, -0.498760611f, -0.484901309f, -0.475106478f, -0.475106448f,
        -0.316060275f, -0.196734667f, -0.000499755144f, 0, 0.00100000005f,
        0.5f, 1, 2.99999976f, 3, 3.00000024f,
        3.5f, 6, 10}},
  };
  ir::Tensor x({1, int64_t(points.size())});
  std::copy(points.begin(), points.end(), x.data.begin());
  for (const Row& row : rows) {
    ir::Tensor got = run_op(row.op, {x}, {}, row.attrs);
    for (size_t i = 0; i < points.size(); ++i) {
      CAPTURE(row.op);
      CAPTURE(points[i]);
      const double want = row.torch[i];
      CHECK(std::abs(got.data[i] - want) <= 1e-6 * std::max(std::abs(want), 1.0));
      // Where the result is a bound (0, 1, 6) or x itself, it comes out
      // exactly: x = 0 for every activation, the flat and identity parts of
      // relu, clamp, hardswish and hardsigmoid on either side of -3 and 3.
      if (want == 0 || want == 1 || want == 6 || want == points[i])
        CHECK(got.data[i] == row.torch[i]);
    }
  }
}

TEST_CASE("activations reject bad attributes with errors naming the node and the attribute") {
  const double inf = std::numeric_limits<double>::infinity();
  const ir::Shape x = {2, 5};
  CHECK(validate_error("clamp", {x}, {}, {{"min", 2.0}, {"max", 1.0}}) ==
        "node 'node' (clamp): attributes 'min' and 'max': expected min <= max, got 2 > 1");
  CHECK(validate_error("clamp", {x}, {}) ==
        "node 'node' (clamp): clamp needs attribute 'min' or 'max', got neither");
  CHECK(validate_error("clamp", {x}, {}, {{"max", inf}}) ==
        "node 'node' (clamp): attribute 'max': expected a finite float32 number, got inf");
  CHECK(validate_error("clamp", {x}, {}, {{"min", 1e39}}) ==
        "node 'node' (clamp): attribute 'min': expected a finite float32 number, got 1e+39");
  CHECK(validate_error("clamp", {x}, {}, {{"min", std::string("0")}}) ==
        "node 'node' (clamp): attribute 'min': expected a number, got \"0\"");
  CHECK(validate_error("gelu", {x}, {}, {{"approximate", std::string("erf")}}) ==
        "node 'node' (gelu): attribute 'approximate': expected \"none\" or \"tanh\", got \"erf\"");
  CHECK(validate_error("leaky_relu", {x}, {}, {{"negative_slope", -inf}}) ==
        "node 'node' (leaky_relu): attribute 'negative_slope': expected a finite float32 "
        "number, got -inf");
  CHECK(validate_error("elu", {x}, {}, {{"alpha", std::nan("")}}) ==
        "node 'node' (elu): attribute 'alpha': expected a finite float32 number, got nan");
  CHECK(validate_error("sigmoid", {x}, {}, {{"alpha", 1.0}}) ==
        "node 'node' (sigmoid): unknown attribute 'alpha' (known: none)");
  CHECK(validate_error("hardswish", {}, {x}) ==
        "node 'node' (hardswish): input 0 (x) 'p0' must be an activation, got a parameter");
}

// --- the post-op form ----------------------------------------------------------------

namespace {

ir::Node conv_node(const ir::Attrs& attrs) {
  ir::Node node;
  node.name = "conv";
  node.op = "conv2d";
  node.attrs = attrs;
  return node;
}

std::string post_op_error(const ir::Attrs& attrs) {
  try {
    ops::post_op_activation_steps(conv_node(attrs));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("post_op_activation_steps reads activation and its activation_ attributes") {
  CHECK(ops::post_op_activation_steps(conv_node({})).empty());
  CHECK(ops::post_op_activation_steps(conv_node({{"activation", std::string("none")}})).empty());

  auto steps = ops::post_op_activation_steps(conv_node(
      {{"activation", std::string("clamp")}, {"activation_min", 0.0}, {"activation_max", 6.0}}));
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].alg == dnnl::algorithm::eltwise_clip);
  CHECK(steps[0].alpha == 0.f);
  CHECK(steps[0].beta == 6.f);

  steps = ops::post_op_activation_steps(conv_node({{"activation", std::string("hardsigmoid")}}));
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].alg == dnnl::algorithm::eltwise_linear);
  CHECK(steps[1].alg == dnnl::algorithm::eltwise_clip);

  steps = ops::post_op_activation_steps(conv_node(
      {{"activation", std::string("gelu")}, {"activation_approximate", std::string("tanh")}}));
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].alg == dnnl::algorithm::eltwise_gelu_tanh);
}

TEST_CASE("post_op_activation_steps rejects unknown names, stray and bad activation_ attributes") {
  CHECK(post_op_error({{"activation", std::string("swish")}}) ==
        "node 'conv' (conv2d): attribute 'activation': expected one of \"none\", \"relu\", "
        "\"clamp\", \"sigmoid\", \"silu\", \"hardswish\", \"hardsigmoid\", \"tanh\", \"gelu\", "
        "\"leaky_relu\", \"elu\", got \"swish\"");
  CHECK(post_op_error({{"activation", std::string("relu")}, {"activation_alpha", 0.5}}) ==
        "node 'conv' (conv2d): attribute 'activation_alpha' does not apply to activation \"relu\"");
  CHECK(post_op_error({{"activation_min", 0.0}}) ==
        "node 'conv' (conv2d): attribute 'activation_min' does not apply to activation \"none\"");
  CHECK(post_op_error({{"activation", std::string("clamp")},
                       {"activation_min", 1.0},
                       {"activation_max", -1.0}}) ==
        "node 'conv' (conv2d): attributes 'activation_min' and 'activation_max': expected min "
        "<= max, got 1 > -1");
}

TEST_CASE("post_op_activation_attr_names lists activation and each prefixed attribute once") {
  CHECK(ops::post_op_activation_attr_names() ==
        std::vector<std::string>{"activation", "activation_min", "activation_max",
                                 "activation_approximate", "activation_negative_slope",
                                 "activation_alpha"});
}

TEST_CASE("every activation's steps as post-ops compute what the standalone op computes") {
  // y = x + 0 on oneDNN's binary primitive, with the steps as its post-ops:
  // the same mechanism a convolution's post-ops use.
  const ir::Shape shape = {3, 41};
  ir::Tensor x = random_tensor(shape, 35, -7, 7);
  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::stream stream(engine);
  for (const Case& c : cases()) {
    CAPTURE(name(c));
    ir::Node node = conv_node(c.attrs);
    dnnl::post_ops post_ops;
    ops::append_activation(post_ops, ops::activation_steps(node, c.op, ""));
    dnnl::memory::desc xd = ops::plain_desc(shape), zero_d = ops::plain_desc({1, 1});
    dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, xd, zero_d, xd),
                                    ops::make_attr(post_ops), engine);
    float zero = 0;
    ir::Tensor y(shape);
    dnnl::memory scratchpad(pd.scratchpad_desc(), engine);
    dnnl::binary(pd).execute(stream, {{DNNL_ARG_SRC_0, {xd, engine, x.data.data()}},
                                      {DNNL_ARG_SRC_1, {zero_d, engine, &zero}},
                                      {DNNL_ARG_DST, {xd, engine, y.data.data()}},
                                      {DNNL_ARG_SCRATCHPAD, scratchpad}});
    stream.wait();
    ir::Tensor standalone = run_op(c.op, {x}, {}, c.attrs);
    std::string report;
    CHECK_MESSAGE(count_mismatches(y, to_ref(standalone), 1e-6, report) == 0, report);
  }
}

TEST_CASE("silu's own loop matches x / (1 + e^-x) at the extremes and in the tail") {
  // 105 floats: six whole vectors of 16 and a tail of 9.
  ir::Tensor x = random_tensor({1, 3, 5, 7}, 700, -12, 12);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.f, -0.f, 1e-30f, -1e-30f, 20.f, -20.f, 87.f, -87.f, 89.f, -89.f,
                            100.f, -100.f, inf, 3.4e38f, -3.4e38f};
  for (size_t i = 0; i < std::size(specials); ++i) x.data[i * 7] = specials[i];
  x.data[104] = -inf;  // the last float, in the tail
  {
    // (Without AVX2 this is oneDNN's swish, held to the same.)
    const LayoutRun run = run_op_in_layout("silu", {x}, {}, {}, dnnl::memory::format_tag::nchw);
    for (size_t i = 0; i < x.data.size(); ++i) {
      const double v = x.data[i];
      const double want = v / (1 + std::exp(-v));  // -inf / inf: NaN, as PyTorch's
      const double got = run.output.data[i];
      CAPTURE(v);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
      } else if (std::isinf(want)) {
        CHECK(got == want);
      } else {
        CHECK(std::abs(got - want) <= 1e-6 * std::max(std::abs(want), 1.0));
      }
    }
  }
}
