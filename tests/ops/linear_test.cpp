#include <doctest/doctest.h>

#include "tests/ops/activation_cases.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("linear matches the reference with and without bias") {
  for (bool with_bias : {true, false}) {
    CAPTURE(with_bias);
    ir::Tensor x = random_tensor({3, 37}, 41);
    ir::Tensor w = random_tensor({10, 37}, 42);
    ir::Tensor b = random_tensor({10}, 43);
    std::vector<ir::Tensor> params = {w};
    if (with_bias) params.push_back(b);
    ir::Tensor got = run_op("linear", {x}, params);
    RefTensor rb = to_ref(b);
    RefTensor want = ref_linear(to_ref(x), to_ref(w), with_bias ? &rb : nullptr);
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
  }
}

TEST_CASE("linear matches the reference on a wide layer") {
  ir::Tensor x = random_tensor({2, 512}, 44);
  ir::Tensor w = random_tensor({33, 512}, 45, -0.1, 0.1);
  ir::Tensor b = random_tensor({33}, 46);
  ir::Tensor got = run_op("linear", {x}, {w, b});
  RefTensor rb = to_ref(b);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, ref_linear(to_ref(x), to_ref(w), &rb), 1e-5, report) == 0,
                report);
}

TEST_CASE("linear applies every activation as a post-op, matching the reference") {
  uint64_t seed = 60;
  for (const ActivationCase& a : activation_cases()) {
    for (const ir::Shape& shape : {ir::Shape{3, 37}, ir::Shape{2, 5, 37}}) {
      CAPTURE(case_name(a));
      CAPTURE(ir::shape_str(shape));
      ir::Tensor x = random_tensor(shape, ++seed);
      ir::Tensor w = random_tensor({10, 37}, ++seed, -0.5, 0.5);
      ir::Tensor b = random_tensor({10}, ++seed);
      ir::Tensor got = run_op("linear", {x}, {w, b}, with_activation({}, a));
      RefTensor rb = to_ref(b);
      RefTensor want = ref_activation(a.op, ref_linear(to_ref(x), to_ref(w), &rb), a.attrs);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
    }
  }
}

TEST_CASE("linear rejects an unknown activation and an attribute its activation does not take") {
  CHECK(validate_error("linear", {{2, 4}}, {{3, 4}}, {{"activation", std::string("swish")}}) ==
        "node 'node' (linear): attribute 'activation': expected one of \"none\", \"relu\", "
        "\"clamp\", \"sigmoid\", \"silu\", \"hardswish\", \"hardsigmoid\", \"tanh\", \"gelu\", "
        "\"leaky_relu\", \"elu\", got \"swish\"");
  CHECK(validate_error("linear", {{2, 4}}, {{3, 4}},
                       {{"activation", std::string("relu")}, {"activation_alpha", 1.0}}) ==
        "node 'node' (linear): attribute 'activation_alpha' does not apply to activation "
        "\"relu\"");
}

TEST_CASE("linear rejects a weight whose IN does not match x") {
  CHECK(validate_error("linear", {{2, 37}}, {{10, 36}}) ==
        "node 'node' (linear): weight 'p0' [10, 36]: expected 37 input features (x 'x0' is "
        "[N, 37]), got 36");
  CHECK(validate_error("linear", {{2, 37}}, {{10, 37}, {11}}) ==
        "node 'node' (linear): bias 'p1': expected shape [10], got [11]");
  CHECK(validate_error("linear", {{2, 3, 9, 11}}, {{10, 297}}) ==
        "node 'node' (linear): weight 'p0' [10, 297]: expected 11 input features (x 'x0' is "
        "[N, 3, 9, 11]), got 297");
  CHECK(validate_error("linear", {{2}}, {{10, 2}}) ==
        "node 'node' (linear): x 'x0': expected rank 2 to 6, got shape [N]");
}

TEST_CASE("linear on rank 3 and 4 inputs applies to the last dim, with a symbolic batch") {
  ir::Tensor w = random_tensor({13, 37}, 47, -0.2, 0.2), b = random_tensor({13}, 48);
  RefTensor rb = to_ref(b);
  for (const ir::Shape& shape : {ir::Shape{2, 9, 37}, ir::Shape{2, 5, 7, 37}, ir::Shape{3, 1, 37}}) {
    CAPTURE(ir::shape_str(shape));
    ir::Tensor x = random_tensor(shape, 49);
    std::string report;
    CHECK_MESSAGE(count_mismatches(run_op("linear", {x}, {w, b}), ref_linear(to_ref(x), to_ref(w), &rb),
                                   1e-5, report) == 0,
                  report);
    CHECK_MESSAGE(count_mismatches(run_op("linear", {x}, {w}), ref_linear(to_ref(x), to_ref(w), nullptr),
                                   1e-5, report) == 0,
                  report);
  }
}
