#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;

namespace {

struct Weights {
  ir::Tensor w1, b1, w2, b2;
  Weights(int64_t C, int64_t S, uint64_t seed)
      : w1(random_tensor({S, C, 1, 1}, seed, -0.5, 0.5)),
        b1(random_tensor({S}, seed + 1, -0.5, 0.5)),
        w2(random_tensor({C, S, 1, 1}, seed + 2, -0.5, 0.5)),
        b2(random_tensor({C}, seed + 3, -0.5, 0.5)) {}
  std::vector<NodeInput> inputs(const ir::Tensor& x) const {
    return {activation(x), parameter(w1), parameter(b1), parameter(w2), parameter(b2)};
  }
};

// x * gate(conv(squeeze(conv(mean(x))))) in double, as the unfused ops compute it.
RefTensor reference(const ir::Tensor& x, const Weights& w, const std::string& squeeze,
                    const std::string& gate) {
  RefTensor b1 = to_ref(w.b1), b2 = to_ref(w.b2);
  RefTensor s = ref_conv2d(ref_global_avg_pool2d(to_ref(x)), to_ref(w.w1), &b1, {1, 1}, {0, 0},
                           {1, 1}, 1);
  if (squeeze != "none") s = ref_activation(squeeze, s);
  RefTensor g = ref_conv2d(s, to_ref(w.w2), &b2, {1, 1}, {0, 0}, {1, 1}, 1);
  if (gate != "none") g = ref_activation(gate, g);
  return ref_binary("mul", to_ref(x), g);
}

}  // namespace

TEST_CASE("squeeze_excite matches pool, two 1x1 convs, their activations and the gate") {
  struct Case {
    int64_t C, S;
    tag given, expected;
    std::string squeeze, gate;
  };
  const Case cases[] = {
      {32, 8, tag::nhwc, tag::nhwc, "silu", "sigmoid"},        // EfficientNet
      {72, 24, tag::nhwc, tag::nhwc, "relu", "hardsigmoid"},   // MobileNetV3
      {48, 12, tag::nChw16c, tag::nChw16c, "relu", "sigmoid"},  // RegNetY
      {48, 12, tag::nChw8c, tag::nChw8c, "none", "none"},
      {20, 5, tag::nChw16c, tag::nChw16c, "silu", "sigmoid"},  // a partial last block
      {20, 5, tag::nChw8c, tag::nChw8c, "relu", "hardsigmoid"},
      {20, 5, tag::nchw, tag::nchw, "gelu", "tanh"},
  };
  uint64_t seed = 1200;
  for (const Case& c : cases) {
    for (const ir::Shape& shape : {ir::Shape{2, c.C, 9, 11}, ir::Shape{1, c.C, 1, 1}}) {
      CAPTURE(c.C);
      CAPTURE(static_cast<int>(c.given));
      CAPTURE(c.squeeze);
      CAPTURE(ir::shape_str(shape));
      const ir::Tensor x = random_tensor(shape, seed += 10, -2, 2);
      const Weights w(c.C, c.S, seed + 5);
      ir::Attrs attrs;
      if (c.squeeze != "none") attrs["squeeze_activation"] = c.squeeze;
      if (c.gate != "none") attrs["gate_activation"] = c.gate;
      const KernelRun run = run_kernel("squeeze_excite", w.inputs(x), {layout(shape, c.given)}, attrs);
      CHECK(run.asked[0] == layout(shape, c.expected));
      CHECK(run.output == run.asked[0]);
      // (At 1x1 pixels several layouts are the same desc: the name may be any.)
      const char* name = c.expected == tag::nhwc     ? "nhwc"
                         : c.expected == tag::nchw   ? "nchw"
                         : c.expected == tag::nChw8c ? "nChw8c"
                                                     : "nChw16c";
      if (shape[2] > 1) CHECK(run.implementation == "kiln:" + kiln_loop_isa() + ":" + name);
      check_close(run.y, reference(x, w, c.squeeze, c.gate), 1e-5);
    }
  }
}

TEST_CASE("squeeze_excite takes activation attributes under its two prefixes") {
  const ir::Tensor x = random_tensor({2, 16, 5, 7}, 1300, -2, 2);
  const Weights w(16, 4, 1301);
  const ir::Attrs attrs = {{"squeeze_activation", std::string("leaky_relu")},
                           {"squeeze_activation_negative_slope", 0.3},
                           {"gate_activation", std::string("clamp")},
                           {"gate_activation_min", -0.25},
                           {"gate_activation_max", 0.5}};
  const KernelRun run = run_kernel("squeeze_excite", w.inputs(x), {layout(x.shape, tag::nhwc)}, attrs);
  RefTensor b1 = to_ref(w.b1), b2 = to_ref(w.b2);
  RefTensor s = ref_conv2d(ref_global_avg_pool2d(to_ref(x)), to_ref(w.w1), &b1, {1, 1}, {0, 0},
                           {1, 1}, 1);
  s = ref_activation("leaky_relu", s, {{"negative_slope", 0.3}});
  RefTensor g = ref_conv2d(s, to_ref(w.w2), &b2, {1, 1}, {0, 0}, {1, 1}, 1);
  g = ref_activation("clamp", g, {{"min", -0.25}, {"max", 0.5}});
  check_close(run.y, ref_binary("mul", to_ref(x), g), 1e-5);
}

TEST_CASE("squeeze_excite applies an input activation before it pools and gates") {
  // The activation runs on tiles of about 64 KB: 96 channels at 20x21 make
  // whole tiles and a partial one per thread.
  uint64_t seed = 1350;
  for (tag t : {tag::nhwc, tag::nChw16c, tag::nChw8c}) {
    for (const std::string act : {"silu", "hardswish"}) {
      CAPTURE(static_cast<int>(t));
      CAPTURE(act);
      const ir::Tensor x = random_tensor({2, 96, 20, 21}, seed += 10, -3, 3);
      const Weights w(96, 24, seed + 5);
      const ir::Attrs attrs = {{"input_activation", act}, {"gate_activation", std::string("sigmoid")}};
      const KernelRun run = run_kernel("squeeze_excite", w.inputs(x), {layout(x.shape, t)}, attrs);
      CHECK(run.asked[0] == layout(x.shape, t));
      ir::Tensor a = x;
      const RefTensor ra = ref_activation(act, to_ref(x));
      for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = static_cast<float>(ra.data[i]);
      check_close(run.y, reference(a, w, "none", "sigmoid"), 1e-5);
    }
  }
}

TEST_CASE("squeeze_excite may overwrite x: it reads all of x before it writes") {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {2, 32, 6, 6});
  const Weights w(32, 8, 1400);
  g.set_outputs({g.add_node("se", "squeeze_excite",
                            {x, g.add_param("w1", w.w1), g.add_param("b1", w.b1),
                             g.add_param("w2", w.w2), g.add_param("b2", w.b2)},
                            {{"gate_activation", std::string("sigmoid")}})
                     ->output});
  ir::infer_shapes(g, ops::registry().schemas());
  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::stream stream(engine);
  for (tag t : {tag::nhwc, tag::nChw16c}) {
    CAPTURE(static_cast<int>(t));
    const dnnl::memory::desc desc = layout(x->shape, t);
    ops::CompileContext ctx{engine, {desc}, {true}, ops::ConvAlgo::direct};
    std::unique_ptr<ops::Kernel> kernel = ops::registry().find("squeeze_excite")->compile(*g.nodes()[0], ctx);
    REQUIRE(kernel->can_overwrite_input(0));
    const ir::Tensor in = random_tensor(x->shape, 1401);
    dnnl::memory plain(layout(x->shape, tag::nchw), engine, const_cast<float*>(in.data.data()));
    dnnl::memory xy(desc, engine), scratch(kernel->scratchpad_desc(), engine);
    dnnl::reorder(plain, xy).execute(stream, plain, xy);
    kernel->execute(stream, kernel->bind({xy}, xy, scratch));
    ir::Tensor y(x->shape);
    dnnl::memory plain_y(layout(x->shape, tag::nchw), engine, y.data.data());
    dnnl::reorder(xy, plain_y).execute(stream, xy, plain_y);
    stream.wait();
    check_close(y, reference(in, w, "none", "sigmoid"), 1e-5);
  }
}

TEST_CASE("squeeze_excite rejects bad weights and attributes naming them") {
  const ir::Shape x = {2, 6, 5, 5};
  CHECK(validate_error("squeeze_excite", {x}, {{3, 5, 1, 1}, {3}, {6, 3, 1, 1}, {6}}) ==
        "node 'node' (squeeze_excite): w1 'p0': expected shape [S, 6, 1, 1] (x has 6 channels), "
        "got [3, 5, 1, 1]");
  CHECK(validate_error("squeeze_excite", {x}, {{3, 6, 1, 1}, {3}, {6, 2, 1, 1}, {6}}) ==
        "node 'node' (squeeze_excite): w2 'p2': expected shape [6, 3, 1, 1], got [6, 2, 1, 1]");
  CHECK(validate_error("squeeze_excite", {x}, {{3, 6, 1, 1}, {3}, {6, 3, 1, 1}, {6}},
                       {{"gate_activation", std::string("swish")}})
            .find("attribute 'gate_activation': expected one of \"none\", \"relu\"") !=
        std::string::npos);
  CHECK(validate_error("squeeze_excite", {x}, {{3, 6, 1, 1}, {3}, {6, 3, 1, 1}, {6}},
                       {{"squeeze_activation", std::string("relu")},
                        {"squeeze_activation_alpha", 1.0}}) ==
        "node 'node' (squeeze_excite): attribute 'squeeze_activation_alpha' does not apply to "
        "activation \"relu\"");
}
