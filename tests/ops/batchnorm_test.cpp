#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/ops/activation_cases.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

// Randomised statistics and affine parameters, never the 0/1/1/0 defaults.
struct BnParams {
  ir::Tensor mean, var, gamma, beta;
  explicit BnParams(int64_t C, uint64_t seed)
      : mean(random_tensor({C}, seed, -0.5, 0.5)),
        var(random_tensor({C}, seed + 1, 0.3, 2.0)),
        gamma(random_tensor({C}, seed + 2, 0.5, 1.5)),
        beta(random_tensor({C}, seed + 3, -0.5, 0.5)) {}
};

void check_batchnorm(const ir::Shape& shape, bool affine, double eps, uint64_t seed) {
  ir::Tensor x = random_tensor(shape, seed);
  BnParams p(shape[1], seed + 10);
  std::vector<ir::Tensor> params = {p.mean, p.var};
  if (affine) params.insert(params.end(), {p.gamma, p.beta});
  ir::Tensor got = run_op("batchnorm", {x}, params, {{"eps", eps}});
  RefTensor g = to_ref(p.gamma), b = to_ref(p.beta);
  RefTensor want = ref_batchnorm(to_ref(x), to_ref(p.mean), to_ref(p.var), affine ? &g : nullptr,
                                 affine ? &b : nullptr, eps);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

}  // namespace

TEST_CASE("batchnorm with weight and bias matches the reference on [N, C, H, W]") {
  check_batchnorm({2, 5, 9, 11}, true, 1e-5, 1);
  check_batchnorm({2, 17, 9, 11}, true, 1e-3, 2);
}

TEST_CASE("batchnorm without weight and bias matches the reference") {
  check_batchnorm({2, 7, 9, 11}, false, 1e-5, 3);
  check_batchnorm({3, 5}, false, 1e-5, 4);
}

TEST_CASE("batchnorm on [N, C] input, as after a linear, matches the reference") {
  check_batchnorm({2, 5}, true, 1e-5, 5);
  check_batchnorm({3, 37}, true, 1e-4, 6);
}

TEST_CASE("batchnorm uses eps 1e-5 by default") {
  ir::Tensor x = random_tensor({2, 3, 9, 11}, 7);
  BnParams p(3, 8);
  ir::Tensor got = run_op("batchnorm", {x}, {p.mean, p.var, p.gamma, p.beta});
  RefTensor g = to_ref(p.gamma), b = to_ref(p.beta);
  RefTensor want = ref_batchnorm(to_ref(x), to_ref(p.mean), to_ref(p.var), &g, &b, 1e-5);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("batchnorm rejects a statistics vector whose length is not the channel count") {
  CHECK(validate_error("batchnorm", {{2, 5, 9, 11}}, {{5}, {4}}) ==
        "node 'node' (batchnorm): running_var 'p1': expected shape [5] (x has 5 channels), "
        "got [4]");
  CHECK(validate_error("batchnorm", {{2, 5}}, {{5}, {5}, {5}, {6}}) ==
        "node 'node' (batchnorm): bias 'p3': expected shape [5] (x has 5 channels), got [6]");
}

TEST_CASE("batchnorm rejects a weight without a bias, a rank-3 input and a negative eps") {
  CHECK(validate_error("batchnorm", {{2, 5, 9, 11}}, {{5}, {5}, {5}}) ==
        "node 'node' (batchnorm): expected weight and bias both or neither, got 4 inputs");
  CHECK(validate_error("batchnorm", {{2, 5, 9}}, {{5}, {5}}) ==
        "node 'node' (batchnorm): x 'x0': expected rank 4 [N, C, H, W] or rank 2 [N, C], got "
        "shape [N, 5, 9]");
  CHECK(validate_error("batchnorm", {{2, 5, 9, 11}}, {{5}, {5}}, {{"eps", -1.0}}) ==
        "node 'node' (batchnorm): attribute 'eps': expected a finite non-negative number, got -1");
}

// The activations oneDNN 2.6's batch normalization applies as a post-op.
static bool bn_takes(const std::string& activation) {
  return activation == "relu" || activation == "leaky_relu";
}

TEST_CASE("batchnorm applies relu and leaky_relu as a post-op, in every layout a conv writes") {
  using tag = dnnl::memory::format_tag;
  uint64_t seed = 100;
  for (const ActivationCase& a : activation_cases()) {
    if (!bn_takes(a.op)) continue;
    CAPTURE(case_name(a));
    // 40 channels: a whole block of 16 or 8 and a partial one.
    for (const ir::Shape& shape : {ir::Shape{2, 40, 6, 5}, ir::Shape{3, 21}}) {
      CAPTURE(ir::shape_str(shape));
      ir::Tensor x = random_tensor(shape, ++seed);
      BnParams p(shape[1], ++seed);
      RefTensor g = to_ref(p.gamma), b = to_ref(p.beta);
      RefTensor want = ref_activation(
          a.op, ref_batchnorm(to_ref(x), to_ref(p.mean), to_ref(p.var), &g, &b, 1e-5), a.attrs);
      ir::Attrs attrs = with_activation({}, a);
      std::string report;
      ir::Tensor got = run_op("batchnorm", {x}, {p.mean, p.var, p.gamma, p.beta}, attrs);
      CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
      if (shape.size() != 4) continue;
      for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc}) {
        CAPTURE(static_cast<int>(t));
        LayoutRun run = run_op_in_layout("batchnorm", {x}, {p.mean, p.var, p.gamma, p.beta},
                                         attrs, t);
        CHECK(run.input_reordered == std::vector<bool>{false});
        // The post-op keeps the kernel the plain batchnorm gets (jit where oneDNN has one).
        CHECK(run.implementation ==
              run_op_in_layout("batchnorm", {x}, {p.mean, p.var, p.gamma, p.beta}, {}, t)
                  .implementation);
        CHECK_MESSAGE(count_mismatches(run.output, want, 1e-5, report) == 0, report);
      }
    }
  }
}

TEST_CASE("batchnorm rejects an activation oneDNN cannot apply after it") {
  for (const ActivationCase& a : activation_cases()) {
    if (bn_takes(a.op)) continue;
    CAPTURE(case_name(a));
    CHECK(validate_error("batchnorm", {{2, 5, 9, 11}}, {{5}, {5}}, with_activation({}, a)) ==
          "node 'node' (batchnorm): attribute 'activation': batchnorm applies only \"relu\" or "
          "\"leaky_relu\" as a post-op, got \"" + a.op + "\"");
  }
  CHECK(validate_error("batchnorm", {{2, 5}}, {{5}, {5}},
                       {{"activation", std::string("relu")}, {"activation_alpha", 1.0}}) ==
        "node 'node' (batchnorm): attribute 'activation_alpha' does not apply to activation "
        "\"relu\"");
}
