// The elementwise binary ops add, sub, mul and div (ops/add.cpp, sub.cpp,
// mul.cpp, div.cpp) and their shared broadcasting kernel (ops/binary.cpp).
//
// One rounding of the exact result, as IEEE float32 does, is what every case
// must give: the double reference rounded to float32 is that (a double holds
// the exact sum, difference and product of two floats, and rounding a
// quotient first to double then to float32 equals rounding it once), so the
// results are compared for equality.
#include "ops/binary.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"
#include "tests/passes/graph_builders.h"

using namespace kiln;
using namespace kiln::test;
using tag = dnnl::memory::format_tag;

namespace {

const char* const kOps[] = {"add", "sub", "mul", "div"};

RefTensor rounded(RefTensor t) {
  for (double& v : t.data) v = static_cast<float>(v);
  return t;
}

// a in [-1, 1), b in [0.5, 2) with signs mixed (never near 0: b divides).
ir::Tensor operand_a(const ir::Shape& shape) { return random_tensor(shape, 41); }
ir::Tensor operand_b(const ir::Shape& shape) {
  ir::Tensor t = random_tensor(shape, 42, 0.5, 2.0);
  for (size_t i = 0; i < t.data.size(); i += 3) t.data[i] = -t.data[i];
  return t;
}

void check_exact(const std::string& op, const ir::Tensor& got, const ir::Tensor& a,
                 const ir::Tensor& b) {
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, rounded(ref_binary(op, to_ref(a), to_ref(b))), 0.0,
                                 report) == 0,
                report);
}

struct Case {
  const char* what;
  ir::Shape a, b;
  bool a_param = false, b_param = false;
  bool fixed_batch = false;  // the batch is symbolic in the graph unless fixed
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"same shapes", {2, 5, 9, 11}, {2, 5, 9, 11}},
      {"a gate [N, C, 1, 1] on the right", {2, 5, 9, 11}, {2, 5, 1, 1}},
      {"a gate [N, C, 1, 1] on the left", {2, 5, 1, 1}, {2, 5, 9, 11}},
      {"one channel against many", {2, 5, 9, 11}, {2, 1, 9, 11}},
      {"both sides broadcast", {2, 5, 1, 11}, {2, 1, 9, 1}},
      {"a [C, 1, 1] parameter", {2, 5, 9, 11}, {5, 1, 1}, false, true},
      {"a [1, C, 1, 1] parameter", {2, 5, 9, 11}, {1, 5, 1, 1}, false, true},
      {"a [W] parameter", {2, 5, 9, 11}, {11}, false, true},
      {"a scalar [1] parameter", {2, 5, 9, 11}, {1}, false, true},
      {"a scalar [] parameter", {2, 5, 9, 11}, {}, false, true},
      {"a scalar [] parameter on the left", {}, {2, 5, 9, 11}, true, false},
      {"a [C, 1, 1] parameter on the left", {5, 1, 1}, {2, 5, 9, 11}, true, false},
      {"rank 2 with a [K] parameter", {3, 37}, {37}, false, true},
      {"rank 3 with a [N, 1, K] activation", {3, 7, 13}, {3, 1, 13}},
      // With a fixed batch of 2, a graph input's dim 0 is 2 whatever its rank.
      {"a lower-rank activation on the right", {2, 3, 2, 5}, {2, 5}, false, false, true},
      {"a lower-rank activation on the left", {2, 1}, {2, 3, 2, 5}, false, false, true},
  };
  return c;
}

}  // namespace

TEST_CASE("add, sub, mul and div broadcast as NumPy does and round exactly once") {
  for (const char* op : kOps) {
    for (const Case& c : cases()) {
      CAPTURE(op);
      CAPTURE(c.what);
      ir::Tensor a = operand_a(c.a), b = operand_b(c.b);
      ir::Tensor got = run_node(op, {c.a_param ? parameter(a) : activation(a),
                                     c.b_param ? parameter(b) : activation(b)},
                                {}, c.fixed_batch);
      check_exact(op, got, a, b);
    }
  }
}

TEST_CASE("a binary op of one activation with itself reads it twice") {
  ir::Tensor x = operand_b({2, 3, 5});
  for (const char* op : kOps) {
    CAPTURE(op);
    ir::Graph g;
    ir::Value* in = g.add_input("x", {ir::kBatch, 3, 5});
    g.set_outputs({g.add_node("y", op, {in, in})->output});
    ir::infer_shapes(g, kiln::test::ops());
    check_exact(op, engine::run_graph(g, {x}).at(0), x, x);
  }
}

bool is_reference(const KernelRun& run) { return run.implementation.rfind("ref", 0) == 0; }

// Whether a broadcast add, sub or mul keeps the layout it is handed: oneDNN
// 2.6 has jit kernels for plain, nhwc and the channel blocks of the CPU's
// vector width (nChw16c with AVX-512, nChw8c with AVX2 alone; none without
// AVX2); div only for plain and nhwc here (20 channels leave a partial block,
// whose padding it would divide by). Other layouts may run in another: the
// op then asks for nhwc.
bool keeps(const std::string& op, tag t) {
  if (t == tag::nchw || t == tag::nhwc) return true;
  if (op == "div") return false;
  return t == tag::nChw16c ? has_avx512() : has_avx2() && !has_avx512();
}

TEST_CASE("binary ops keep the full operand's layout where a jit kernel takes it, else nhwc") {
  const ir::Shape full = {2, 20, 7, 9};  // 20 channels: a partial block of 16 and of 8
  const ir::Shape gate = {2, 20, 1, 1};
  ir::Tensor big_a = operand_a(full), big_b = operand_b(full);
  for (const char* op : kOps) {
    for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc, tag::nchw}) {
      const std::string name = op;
      CAPTURE(name);
      CAPTURE(int(t));
      const dnnl::memory::desc given = layout(full, t), plain = layout(gate, tag::nchw);
      // The layouts the op works in: the full operands', and the gate's in
      // the same order and blocks.
      const tag works = keeps(op, t) ? t : tag::nhwc;
      const dnnl::memory::desc kept = layout(full, works), kept_gate = layout(gate, works);
      const bool either = !keeps(op, t);  // may keep it all the same, where oneDNN has a kernel

      // The gate's asked layout: `want`, or plain where that is nhwc (the same
      // bytes for [N, C, 1, 1]; Kiln's channel-gate loop takes it as given).
      auto gate_as = [&](const dnnl::memory::desc& asked, const dnnl::memory::desc& want) {
        return asked == want || (want == layout(gate, tag::nhwc) && asked == plain);
      };

      // The big tensor on the left, the gate (activation or parameter) on the right.
      ir::Tensor small_b = operand_b(gate);
      KernelRun run = run_kernel(op, {activation(big_a), activation(small_b)}, {given, plain});
      CHECK((run.asked[0] == kept || (either && run.asked[0] == given)));
      CHECK(gate_as(run.asked[1], run.asked[0] == given ? layout(gate, t) : kept_gate));
      CHECK(run.output == run.asked[0]);
      CHECK_FALSE(is_reference(run));
      check_exact(op, run.y, big_a, small_b);
      ir::Tensor param_b = operand_b({20, 1, 1});
      run = run_kernel(op, {activation(big_a), parameter(param_b)}, {given});
      CHECK((run.asked[0] == kept || (either && run.asked[0] == given)));
      CHECK(run.output == run.asked[0]);
      CHECK_FALSE(is_reference(run));
      check_exact(op, run.y, big_a, param_b);

      // The gate on the left: sub swaps with a negation, div copies it broadcast first.
      ir::Tensor small_a = operand_a(gate);
      run = run_kernel(op, {activation(small_a), activation(big_b)}, {plain, given});
      CHECK((run.asked[1] == kept || (either && run.asked[1] == given)));
      if (std::string(op) == "div")
        CHECK(run.asked[0] == plain);
      else
        CHECK(gate_as(run.asked[0], run.asked[1] == given ? layout(gate, t) : kept_gate));
      CHECK(run.output == run.asked[1]);
      CHECK_FALSE(is_reference(run));
      check_exact(op, run.y, small_a, big_b);
      ir::Tensor scalar_a = operand_a({});
      run = run_kernel(op, {parameter(scalar_a), activation(big_b)}, {given});
      CHECK((run.asked[0] == kept || (either && run.asked[0] == given)));
      CHECK(run.output == run.asked[0]);
      check_exact(op, run.y, scalar_a, big_b);

      // Same shapes: b is asked for in a's layout.
      run = run_kernel(op, {activation(big_a), activation(big_b)}, {given, given});
      CHECK(run.asked[1] == run.asked[0]);
      CHECK(run.output == run.asked[0]);
      CHECK_FALSE(is_reference(run));
      check_exact(op, run.y, big_a, big_b);
    }
  }
}

TEST_CASE("a squeeze-excitation gate multiplies a conv's output in its layout, on a jit kernel") {
  // y = conv(x); s = sigmoid(global_avg_pool2d(y)); out = y * s, s [N, C, 1, 1].
  const int64_t C = 5, OC = 20;
  ir::Tensor x = random_tensor({2, C, 7, 9}, 43);
  ir::Graph g;
  ir::Value* y = add_conv(g, "conv", g.add_input("x", {ir::kBatch, C, 7, 9}), C, OC, 44);
  ir::Value* pooled = g.add_node("pool", "global_avg_pool2d", {y})->output;
  ir::Value* s = g.add_node("gate", "sigmoid", {pooled})->output;
  g.set_outputs({g.add_node("scale", "mul", {y, s})->output});
  ir::infer_shapes(g, kiln::test::ops());

  engine::Plan plan = engine::compile(g, 2);
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  const engine::Step* conv = nullptr;
  const engine::Step* mul = nullptr;
  for (const engine::Step& step : impl.steps) {
    if (step.op == "conv2d") conv = &step;
    if (step.op == "mul") mul = &step;
    CHECK(step.name != "reorder conv");  // the big tensor is never reordered
  }
  REQUIRE(conv);
  REQUIRE(mul);
  CHECK(impl.tensors.at(size_t(mul->inputs[0])).desc == impl.tensors.at(size_t(conv->output)).desc);
  CHECK(impl.tensors.at(size_t(mul->output)).desc == impl.tensors.at(size_t(conv->output)).desc);
  // oneDNN 2.6 runs a broadcast src1 in src0's blocked layout on its jit
  // kernel; in any other layout it would fall back to the reference one.
  // On nhwc (AVX-512's convs) Kiln's channel-gate loop runs instead (ops/channel_gate.h).
  const std::string mul_impl = mul->kernel->implementation();
  if (conv->kernel->implementation().rfind("ref", 0) != 0)
    CHECK((mul_impl.rfind("jit", 0) == 0 || mul_impl.rfind("kiln:channel_gate", 0) == 0));

  ir::Tensor got = engine::Context(plan).run({x}).at(0);
  RefTensor bias = to_ref(*g.find_value("conv.bias")->data);
  RefTensor want = ref_conv2d(to_ref(x), to_ref(*g.find_value("conv.weight")->data), &bias,
                              {1, 1}, {1, 1}, {1, 1}, 1);
  want = ref_binary("mul", want, ref_activation("sigmoid", ref_global_avg_pool2d(want)));
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("a gate on a grouped conv's output runs on a jit kernel, whatever layout the conv chose") {
  // 8 channels per group: oneDNN writes nChw8c, which its AVX-512 binary
  // kernels lack (RegNetY's squeeze-excitation). The mul must not fall back
  // to the reference kernel; the engine reorders for it instead.
  const int64_t C = 48, G = 6;
  ir::Tensor x = random_tensor({1, C, 14, 14}, 45);
  ir::Tensor w = random_tensor({C, C / G, 3, 3}, 46, -0.3, 0.3);
  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 14, 14});
  ir::Value* y = g.add_node("conv", "conv2d", {in, g.add_param("conv.weight", w)},
                            {{"padding", std::vector<int64_t>{1, 1}}, {"groups", G}})
                     ->output;
  ir::Value* s = g.add_node("gate", "sigmoid",
                            {g.add_node("pool", "global_avg_pool2d", {y})->output})
                     ->output;
  g.set_outputs({g.add_node("scale", "mul", {s, y})->output});
  ir::infer_shapes(g, kiln::test::ops());

  engine::Plan plan = engine::compile(g, 1);
  bool found = false;
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op != "mul") continue;
    found = true;
    CHECK_MESSAGE(step.implementation.rfind("ref", 0) != 0, step.implementation);
  }
  CHECK(found);

  ir::Tensor got = engine::Context(plan).run({x}).at(0);
  RefTensor want = ref_conv2d(to_ref(x), to_ref(w), nullptr, {1, 1}, {1, 1}, {1, 1}, G);
  want = ref_binary("mul", ref_activation("sigmoid", ref_global_avg_pool2d(want)), want);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("a gate on a channels-last activation runs Kiln's loop, exactly, either side") {
  // oneDNN 2.6's nhwc binary kernel is slow with a broadcast [N, C, 1, 1]
  // operand (ops/channel_gate.h); Kiln's loop takes every op and order, a
  // gate per image and channel or per channel, activation or parameter.
  const std::string name = "kiln:channel_gate:" + kiln_loop_isa();
  for (int64_t C : {20, 32}) {
    const ir::Shape full = {2, C, 7, 9};
    const dnnl::memory::desc x_nhwc = layout(full, tag::nhwc);
    for (const char* op : kOps) {
      for (const ir::Shape& gate : {ir::Shape{2, C, 1, 1}, ir::Shape{1, C, 1, 1}}) {
        CAPTURE(std::string(op));
        CAPTURE(C);
        CAPTURE(gate[0]);
        ir::Tensor x = operand_a(full), g = operand_b(gate);
        for (tag t : {tag::nchw, tag::nhwc, tag::nChw16c}) {
          CAPTURE(int(t));
          const dnnl::memory::desc given = layout(gate, t);
          // Read as given where its bytes are in (n, c) order, else plain.
          const bool dense = t != tag::nChw16c || C % 16 == 0;
          KernelRun run = run_kernel(op, {activation(x), activation(g)}, {x_nhwc, given});
          CHECK(run.implementation == name);
          CHECK(run.asked[0] == x_nhwc);
          CHECK(run.asked[1] == (dense ? given : layout(gate, tag::nchw)));
          CHECK(run.output == x_nhwc);
          check_exact(op, run.y, x, g);
          run = run_kernel(op, {activation(g), activation(x)}, {given, x_nhwc});
          CHECK(run.implementation == name);
          check_exact(op, run.y, g, x);
        }
        KernelRun run = run_kernel(op, {activation(x), parameter(g)}, {x_nhwc});
        CHECK(run.implementation == name);
        check_exact(op, run.y, x, g);
        run = run_kernel(op, {parameter(g), activation(x)}, {x_nhwc});
        CHECK(run.implementation == name);
        check_exact(op, run.y, g, x);
      }
    }
  }
  // The output may take x's buffer (the engine does so where x dies): run it so.
  const ir::Tensor x = operand_a({2, 32, 7, 9}), g = operand_b({2, 32, 1, 1});
  ir::Graph graph;
  ir::Value* a = graph.add_input("x", x.shape);
  ir::Value* b = graph.add_input("g", g.shape);
  graph.set_outputs({graph.add_node("mul", "mul", {a, b})->output});
  ir::infer_shapes(graph, kiln::test::ops());
  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::stream stream(engine);
  const dnnl::memory::desc x_desc = layout(x.shape, tag::nhwc), g_desc = layout(g.shape, tag::nchw);
  ops::CompileContext ctx{engine, {x_desc, g_desc}, {true, true}, ops::ConvAlgo::direct};
  std::unique_ptr<ops::Kernel> kernel =
      ops::registry().find("mul")->compile(*graph.nodes().at(0), ctx);
  CHECK(kernel->implementation() == name);
  CHECK(kernel->can_overwrite_input(0));
  CHECK_FALSE(kernel->can_overwrite_input(1));
  dnnl::memory plain_x(layout(x.shape, tag::nchw), engine, const_cast<float*>(x.data.data()));
  dnnl::memory xy(x_desc, engine), gm(g_desc, engine, const_cast<float*>(g.data.data()));
  dnnl::reorder(plain_x, xy).execute(stream, plain_x, xy);
  kernel->execute(stream, kernel->bind({xy, gm}, xy, dnnl::memory()));
  ir::Tensor y(x.shape);
  dnnl::memory plain_y(layout(x.shape, tag::nchw), engine, y.data.data());
  dnnl::reorder(xy, plain_y).execute(stream, xy, plain_y);
  stream.wait();
  check_exact("mul", y, x, g);
}

TEST_CASE("binary ops reject shapes that cannot broadcast, naming both") {
  CHECK(validate_error("mul", {{2, 64, 7, 7}}, {{32, 1, 1}}) ==
        "node 'node' (mul): cannot broadcast a 'x0' [N, 64, 7, 7] with b 'p0' [32, 1, 1] "
        "(aligned on the right, each dimension pair must be equal or contain a 1)");
  CHECK(validate_error("sub", {{2, 5, 9, 11}, {2, 5, 9, 10}}, {}) ==
        "node 'node' (sub): cannot broadcast a 'x0' [N, 5, 9, 11] with b 'x1' [N, 5, 9, 10] "
        "(aligned on the right, each dimension pair must be equal or contain a 1)");
  // The symbolic batch may be any size: only N or 1 broadcast with it.
  CHECK(validate_error("add", {{2, 5}}, {{3, 5}}) ==
        "node 'node' (add): cannot broadcast a 'x0' [N, 5] with b 'p0' [3, 5] "
        "(aligned on the right, each dimension pair must be equal or contain a 1)");
  CHECK(validate_error("add", {{2, 5}}, {{1, 5}}).empty());
}

TEST_CASE("binary ops reject two parameters, empty dimensions and attributes") {
  CHECK(validate_error("div", {}, {{2, 5}, {5}}) ==
        "node 'node' (div): a 'p0' and b 'p1' are both parameters: expected at least one "
        "activation");
  CHECK(validate_error("add", {{2, 5}}, {{0}}) ==
        "node 'node' (add): input 1 (b) 'p0': expected positive dimensions, got [0]");
  CHECK(validate_error("mul", {{2, 5}}, {{5}}, {{"activation", std::string("relu")}}) ==
        "node 'node' (mul): unknown attribute 'activation' (known: none)");
  CHECK(validate_error("sub", {{2, 5}, {2, 5}, {2, 5}}, {}) ==
        "node 'node' (sub): expected 2 inputs, got 3");
}

TEST_CASE("broadcast_shapes aligns on the right and treats the batch as unknown") {
  using ops::broadcast_shapes;
  CHECK(broadcast_shapes({2, 5, 9, 11}, {5, 1, 1}) == ir::Shape{2, 5, 9, 11});
  CHECK(broadcast_shapes({1, 5, 1}, {3, 1, 7}) == ir::Shape{3, 5, 7});
  CHECK(broadcast_shapes({}, {4}) == ir::Shape{4});
  CHECK(broadcast_shapes({ir::kBatch, 5}, {1, 5}) == ir::Shape{ir::kBatch, 5});
  CHECK(broadcast_shapes({ir::kBatch, 5}, {ir::kBatch, 1}) == ir::Shape{ir::kBatch, 5});
  CHECK_FALSE(broadcast_shapes({ir::kBatch, 5}, {2, 5}));
  CHECK_FALSE(broadcast_shapes({3, 5}, {2, 5}));
}
