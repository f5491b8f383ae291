// bench/op_cases.h as tests: every single-op case the microbenchmarks time,
// at batch 1, run through the engine and compared with the reference in
// double (tests/ops/reference.h). One subcase per benchmark, under its name
// (doctest splits filters at commas, so they are escaped):
//   kiln_tests -tc='bench/op_cases*' -sc='conv2d/N=1\,IC=64\,H=56\,K=3\,S=1'
// The cases the benchmarks also time on Kiln's Winograd kernel run on it here
// too ("<case>,kiln-winograd"), where there is AVX2 for it.
#include "bench/op_cases.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ops/activation.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

// The op's result on `inputs` in double: the reference of its op, with the
// attributes and parameters of the case's graph.
RefTensor reference(const bench::OpCase& c, const ir::Graph& g,
                    const std::vector<ir::Tensor>& inputs) {
  const ir::Node& node = *g.find_node(c.op);
  std::vector<RefTensor> x, p;
  for (const ir::Tensor& t : inputs) x.push_back(to_ref(t));
  for (size_t i = inputs.size(); i < node.inputs.size(); ++i)
    p.push_back(to_ref(*node.inputs[i]->data));
  auto ints = [&](const char* key, std::vector<int64_t> fallback) {
    return ir::attr_ints(node, key, fallback);
  };
  if (c.op == "conv2d")
    return ref_conv2d(x[0], p[0], p.size() > 1 ? &p[1] : nullptr, ints("stride", {1, 1}),
                      ints("padding", {0, 0}), ints("dilation", {1, 1}),
                      ir::attr_int(node, "groups", 1));
  if (c.op == "batchnorm")
    return ref_batchnorm(x[0], p[0], p[1], &p[2], &p[3], ir::attr_real(node, "eps", 1e-5));
  if (ops::is_activation(c.op)) return ref_activation(c.op, x[0], c.attrs);
  if (c.op == "add" || c.op == "sub" || c.op == "mul" || c.op == "div")
    return ref_binary(c.op, x[0], x.size() > 1 ? x[1] : p[0]);
  if (c.op == "max_pool2d")
    return ref_max_pool2d(x[0], ints("kernel", {}), ints("stride", {}), ints("padding", {0, 0}),
                          ints("dilation", {1, 1}), ir::attr_int(node, "ceil_mode", 0) != 0);
  if (c.op == "global_avg_pool2d") return ref_global_avg_pool2d(x[0]);
  if (c.op == "linear") return ref_linear(x[0], p[0], &p[1]);
  FAIL("bench/op_cases.h has an op with no reference here: " << c.op);
  return {};
}

// Runs the case with `algo` and compares: element by element for oneDNN's
// kernels, against the largest output for Kiln's Winograd (its transforms
// scale by up to 8 before values cancel).
void check_case(const bench::OpCase& c, ops::ConvAlgo algo) {
  ir::Graph g = bench::op_case_graph(c, 1);
  std::vector<ir::Tensor> inputs = bench::op_case_inputs(c, 2);
  std::vector<ir::Tensor> got = engine::run_graph(g, inputs, {algo});
  REQUIRE(got.size() == 1);
  RefTensor want = reference(c, g, inputs);
  if (algo == ops::ConvAlgo::kiln_winograd) {
    check_close(got[0], want, 1e-4);
    return;
  }
  std::string report;
  CHECK_MESSAGE(count_mismatches(got[0], want, 1e-4, report) == 0, report);
}

}  // namespace

TEST_CASE("bench/op_cases: every benchmark case at batch 1 matches its reference") {
  const std::vector<bench::OpCase> cases = bench::resnet18_op_cases(1);
  REQUIRE(cases.size() > 20);
  for (const bench::OpCase& c : cases) {
    SUBCASE(c.name.c_str()) { check_case(c, ops::ConvAlgo::direct); }
    if (!bench::op_case_runs_winograd(c)) continue;
    const std::string winograd = c.name + ",kiln-winograd";
    SUBCASE(winograd.c_str()) {
      // Skipped with a message without AVX2: there is no Kiln Winograd kernel to time or test.
      if (!skip_without_avx2("Kiln's Winograd kernel")) check_case(c, ops::ConvAlgo::kiln_winograd);
    }
  }
}
