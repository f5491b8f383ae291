// Layouts between ops: a conv writes the layout oneDNN chose for it (nChw16c
// or nhwc, depending on the CPU); relu, batchnorm, add, pooling and flatten
// must take it as it is, with right results and no reorders in between.
// Without AVX2 oneDNN may run these small convs in the plain layout: the
// layout checks are then skipped with a message (tests/isa.h), the results
// still checked.
#include <doctest/doctest.h>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

const std::vector<int64_t> kOnes = {1, 1};

struct ConvParams {
  ir::Tensor w, b;
  ConvParams(int64_t OC, int64_t C, uint64_t seed)
      : w(random_tensor({OC, C, 3, 3}, seed, -0.3, 0.3)), b(random_tensor({OC}, seed + 1)) {}
};

ir::Node* add_conv(ir::Graph& g, const std::string& name, ir::Value* x, const ConvParams& p) {
  return g.add_node(name, "conv2d",
                    {x, g.add_param(name + ".weight", p.w), g.add_param(name + ".bias", p.b)},
                    {{"padding", kOnes}});
}

std::vector<std::string> step_ops(const engine::Plan& plan) {
  std::vector<std::string> ops;
  for (const engine::StepInfo& s : plan.steps()) ops.push_back(s.op);
  return ops;
}

const dnnl::memory::desc& output_desc(const engine::Plan& plan, size_t step) {
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  return impl.tensors.at(static_cast<size_t>(impl.steps.at(step).output)).desc;
}

}  // namespace

TEST_CASE("conv2d -> relu -> batchnorm stays in the conv's layout and matches the reference") {
  const int64_t C = 5, OC = 17;
  ir::Tensor x = random_tensor({2, C, 9, 11}, 90);
  ConvParams conv(OC, C, 91);
  ir::Tensor mean = random_tensor({OC}, 93, -0.5, 0.5), var = random_tensor({OC}, 94, 0.3, 2.0);
  ir::Tensor gamma = random_tensor({OC}, 95, 0.5, 1.5), beta = random_tensor({OC}, 96);

  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 9, 11});
  ir::Node* c1 = add_conv(g, "conv", in, conv);
  ir::Node* relu = g.add_node("relu", "relu", {c1->output});
  ir::Node* bn = g.add_node("bn", "batchnorm",
                            {relu->output, g.add_param("bn.running_mean", mean),
                             g.add_param("bn.running_var", var), g.add_param("bn.weight", gamma),
                             g.add_param("bn.bias", beta)});
  g.set_outputs({bn->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());

  engine::Plan plan = engine::compile(g, 2);
  if (!skip_without_avx2("the layout checks, as oneDNN may keep the conv plain")) {
    std::vector<std::string> ops = step_ops(plan);
    // Optionally a reorder of x into the conv's src layout, then the three ops
    // back to back, then one reorder to the plain output.
    REQUIRE(ops.size() >= 4);
    size_t first = ops.size() - 4;
    CHECK(ops[first] == "conv2d");
    CHECK(ops[first + 1] == "relu");
    CHECK(ops[first + 2] == "batchnorm");
    CHECK(ops[first + 3] == "reorder");
    // oneDNN picks nChw8c, nChw16c or nhwc (acdb) depending on the CPU; never plain.
    const dnnl::memory::desc& conv_layout = output_desc(plan, first);
    CHECK(conv_layout != ops::plain_desc({2, OC, 9, 11}));
    CHECK(output_desc(plan, first + 1) == conv_layout);
    CHECK(output_desc(plan, first + 2) == conv_layout);
  }

  engine::Context ctx(plan);
  ir::Tensor got = ctx.run({x}).at(0);
  RefTensor rb = to_ref(conv.b), rg = to_ref(gamma), rbeta = to_ref(beta);
  RefTensor want = ref_conv2d(to_ref(x), to_ref(conv.w), &rb, kOnes, kOnes, kOnes, 1);
  want = ref_batchnorm(ref_relu(want), to_ref(mean), to_ref(var), &rg, &rbeta, 1e-5);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("a residual add of a conv output and a plain input, pooled and flattened, is right") {
  // y = flatten(global_avg_pool2d(max_pool2d(relu(add(conv(x), x))))), with
  // x plain (a graph input) and conv(x) in oneDNN's layout: add asks for x
  // in that layout; flatten reads the pooling output in it directly.
  const int64_t C = 16;
  ir::Tensor x = random_tensor({2, C, 9, 11}, 100);
  ConvParams conv(C, C, 101);

  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 9, 11});
  ir::Node* c1 = add_conv(g, "conv", in, conv);
  ir::Node* sum = g.add_node("add", "add", {c1->output, in});
  ir::Node* relu = g.add_node("relu", "relu", {sum->output});
  ir::Node* pool = g.add_node("pool", "max_pool2d", {relu->output},
                              {{"kernel", std::vector<int64_t>{3, 3}},
                               {"stride", std::vector<int64_t>{2, 2}},
                               {"padding", kOnes},
                               {"ceil_mode", int64_t{1}}});
  ir::Node* gap = g.add_node("gap", "global_avg_pool2d", {pool->output});
  ir::Node* flat = g.add_node("flatten", "flatten", {gap->output});
  g.set_outputs({flat->output, pool->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());

  std::vector<ir::Tensor> got = engine::run_graph(g, {x});
  RefTensor rb = to_ref(conv.b);
  RefTensor y = ref_conv2d(to_ref(x), to_ref(conv.w), &rb, kOnes, kOnes, kOnes, 1);
  RefTensor pooled = ref_max_pool2d(ref_relu(ref_add(y, to_ref(x))), {3, 3}, {2, 2}, kOnes,
                                    kOnes, true);
  RefTensor flat_want = ref_flatten(ref_global_avg_pool2d(pooled), 1);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got.at(0), flat_want, 1e-5, report) == 0, report);
  CHECK_MESSAGE(count_mismatches(got.at(1), pooled, 1e-5, report) == 0, report);
}

TEST_CASE("flatten -> linear -> batchnorm after a conv in oneDNN's layout matches the reference") {
  const int64_t C = 3, OC = 17, OUT = 7;
  ir::Tensor x = random_tensor({2, C, 5, 7}, 110);
  ConvParams conv(OC, C, 111);
  ir::Tensor w = random_tensor({OUT, OC * 5 * 7}, 113, -0.1, 0.1), b = random_tensor({OUT}, 114);
  ir::Tensor mean = random_tensor({OUT}, 115, -0.5, 0.5), var = random_tensor({OUT}, 116, 0.3, 2.0);
  ir::Tensor gamma = random_tensor({OUT}, 117, 0.5, 1.5), beta = random_tensor({OUT}, 118);

  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 5, 7});
  ir::Node* c1 = add_conv(g, "conv", in, conv);
  ir::Node* flat = g.add_node("flatten", "flatten", {c1->output});
  ir::Node* fc = g.add_node("fc", "linear",
                            {flat->output, g.add_param("fc.weight", w), g.add_param("fc.bias", b)});
  ir::Node* bn = g.add_node("bn", "batchnorm",
                            {fc->output, g.add_param("bn.running_mean", mean),
                             g.add_param("bn.running_var", var), g.add_param("bn.weight", gamma),
                             g.add_param("bn.bias", beta)});
  g.set_outputs({bn->output});
  ir::infer_shapes(g, ops::registry().schemas());

  ir::Tensor got = engine::run_graph(g, {x}).at(0);
  RefTensor rb = to_ref(conv.b), rfb = to_ref(b), rg = to_ref(gamma), rbeta = to_ref(beta);
  RefTensor y = ref_conv2d(to_ref(x), to_ref(conv.w), &rb, kOnes, kOnes, kOnes, 1);
  y = ref_linear(ref_flatten(y, 1), to_ref(w), &rfb);
  y = ref_batchnorm(y, to_ref(mean), to_ref(var), &rg, &rbeta, 1e-5);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, y, 1e-5, report) == 0, report);
}
