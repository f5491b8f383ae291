// fold_bn_weights, the fold's maths on its own, against conv/linear followed
// by batchnorm in double (the references of tests/ops/reference.h).
#include "passes/fold_batchnorm.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ir/error.h"
#include "tests/ops/reference.h"
#include "tests/passes/fold_support.h"

namespace {

using kiln::ir::Shape;
using kiln::ir::Tensor;
using kiln::passes::fold_bn_weights;
using kiln::test::BnParams;
using kiln::test::RefTensor;
using kiln::test::ref_batchnorm;
using kiln::test::ref_conv2d;
using kiln::test::ref_linear;
using kiln::test::random_bn;
using kiln::test::random_tensor;
using kiln::test::Rng;
using kiln::test::to_ref;

// --- the references: tests/ops/reference.h, in double -----------------------

struct ConvGeometry {
  int64_t stride = 1, pad = 0, dilation = 1, groups = 1;
};

RefTensor conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, ConvGeometry g) {
  RefTensor bias = b ? to_ref(*b) : RefTensor{};
  return ref_conv2d(to_ref(x), to_ref(w), b ? &bias : nullptr, {g.stride, g.stride},
                    {g.pad, g.pad}, {g.dilation, g.dilation}, g.groups);
}

RefTensor linear_ref(const Tensor& x, const Tensor& w, const Tensor* b) {
  RefTensor bias = b ? to_ref(*b) : RefTensor{};
  return ref_linear(to_ref(x), to_ref(w), b ? &bias : nullptr);
}

// Inference batchnorm on [N, C] or [N, C, H, W], with or without gamma and beta.
RefTensor bn_ref(const RefTensor& y, const BnParams& p, double eps, bool affine) {
  RefTensor gamma = to_ref(p.gamma), beta = to_ref(p.beta);
  return ref_batchnorm(y, to_ref(p.mean), to_ref(p.var), affine ? &gamma : nullptr,
                       affine ? &beta : nullptr, eps);
}

// doctest::Contains takes a doctest::String; this takes a std::string.
doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

// max |a - b| relative to max |b|.
double relative_error(const RefTensor& a, const RefTensor& b) {
  REQUIRE(a.shape == b.shape);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    diff = std::max(diff, std::fabs(a.data[i] - b.data[i]));
    scale = std::max(scale, std::fabs(b.data[i]));
  }
  return diff / std::max(scale, 1e-30);
}

// --- the fold maths on its own -------------------------------------------------

struct ConvCase {
  const char* name;
  int64_t ic, oc, k;
  ConvGeometry geometry;
  bool bias, affine;
};

void check_conv_fold(const ConvCase& cc, uint64_t seed) {
  CAPTURE(cc.name);
  Rng rng(seed);
  const double eps = 1e-3;
  Tensor x = random_tensor({2, cc.ic, 7, 9}, rng, -1, 1);
  Tensor w = random_tensor({cc.oc, cc.ic / cc.geometry.groups, cc.k, cc.k}, rng, -0.5, 0.5);
  Tensor b = random_tensor({cc.oc}, rng, -0.5, 0.5);
  BnParams bn = random_bn(cc.oc, rng);

  RefTensor expected =
      bn_ref(conv_ref(x, w, cc.bias ? &b : nullptr, cc.geometry), bn, eps, cc.affine);

  auto folded = fold_bn_weights(w, cc.bias ? &b : nullptr, bn.mean, bn.var, eps,
                                cc.affine ? &bn.gamma : nullptr, cc.affine ? &bn.beta : nullptr,
                                "node 'bn' (batchnorm)");
  CHECK(folded.weight.shape == w.shape);
  CHECK(folded.bias.shape == Shape{cc.oc});
  CHECK(relative_error(conv_ref(x, folded.weight, &folded.bias, cc.geometry), expected) < 1e-5);
}

TEST_CASE("fold_bn_weights matches conv then batchnorm for plain, grouped, depthwise, bias-free "
          "and non-affine convs") {
  const ConvCase cases[] = {
      {"plain 3x3, pad 1", 3, 5, 3, {1, 1, 1, 1}, true, true},
      {"strided, dilated", 4, 6, 3, {2, 2, 2, 1}, true, true},
      {"grouped, groups=3", 6, 9, 3, {1, 1, 1, 3}, true, true},
      {"depthwise", 4, 4, 3, {1, 1, 1, 4}, true, true},
      {"no conv bias", 3, 5, 3, {1, 1, 1, 1}, false, true},
      {"no BN affine", 3, 5, 1, {1, 0, 1, 1}, true, false},
      {"no bias, no affine", 4, 8, 3, {1, 1, 1, 2}, false, false},
  };
  uint64_t seed = 11;
  for (const ConvCase& cc : cases) check_conv_fold(cc, seed++);
}

TEST_CASE("fold_bn_weights matches linear then batchnorm on [N, C]") {
  Rng rng(5);
  const double eps = 1e-5;
  Tensor x = random_tensor({3, 7}, rng, -1, 1);
  Tensor w = random_tensor({6, 7}, rng, -0.5, 0.5);
  Tensor b = random_tensor({6}, rng, -0.5, 0.5);
  BnParams bn = random_bn(6, rng);

  RefTensor expected = bn_ref(linear_ref(x, w, &b), bn, eps, true);
  auto folded = fold_bn_weights(w, &b, bn.mean, bn.var, eps, &bn.gamma, &bn.beta, "bn");
  CHECK(relative_error(linear_ref(x, folded.weight, &folded.bias), expected) < 1e-5);
}

TEST_CASE("fold_bn_weights scales output channel c by gamma / sqrt(var + eps)") {
  Tensor w({2, 1, 1, 1}, {2.0f, 3.0f});
  Tensor mean({2}, {0.5f, -1.0f}), var({2}, {3.0f, 0.25f}), gamma({2}, {-2.0f, 0.5f}),
      beta({2}, {0.25f, 1.5f});
  auto f = fold_bn_weights(w, nullptr, mean, var, 1.0, &gamma, &beta, "bn");
  // s = [-2 / 2, 0.5 / sqrt(1.25)]
  double s1 = 0.5 / std::sqrt(1.25);
  CHECK(f.weight.data[0] == doctest::Approx(-2.0));
  CHECK(f.weight.data[1] == doctest::Approx(3.0 * s1));
  CHECK(f.bias.data[0] == doctest::Approx((0 - 0.5) * -1.0 + 0.25));
  CHECK(f.bias.data[1] == doctest::Approx((0 + 1.0) * s1 + 1.5));
}

TEST_CASE("fold_bn_weights rejects bad statistics and names the node") {
  Rng rng(3);
  Tensor w = random_tensor({4, 2, 3, 3}, rng, -1, 1);
  BnParams bn = random_bn(4, rng);
  const std::string where = "node 'layer1.0.bn1' (batchnorm)";

  SUBCASE("var + eps <= 0") {
    bn.var.data[2] = -0.5f;
    CHECK_THROWS_WITH_AS(fold_bn_weights(w, nullptr, bn.mean, bn.var, 1e-5, nullptr, nullptr, where),
                         contains(where + ": channel 2: running_var + eps must be positive"),
                         kiln::Error);
  }
  SUBCASE("var + eps == 0 exactly") {
    bn.var.data[0] = 0.0f;
    CHECK_THROWS_WITH_AS(fold_bn_weights(w, nullptr, bn.mean, bn.var, 0.0, nullptr, nullptr, where),
                         contains(where + ": channel 0: running_var + eps"), kiln::Error);
  }
  SUBCASE("NaN mean") {
    bn.mean.data[1] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(fold_bn_weights(w, nullptr, bn.mean, bn.var, 1e-5, nullptr, nullptr, where),
                         contains(where + ": running_mean[1]: expected a finite number"),
                         kiln::Error);
  }
  SUBCASE("infinite gamma") {
    bn.gamma.data[3] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH_AS(
        fold_bn_weights(w, nullptr, bn.mean, bn.var, 1e-5, &bn.gamma, &bn.beta, where),
        contains(where + ": weight (gamma)[3]: expected a finite number"), kiln::Error);
  }
  SUBCASE("NaN eps") {
    CHECK_THROWS_WITH_AS(fold_bn_weights(w, nullptr, bn.mean, bn.var,
                                         std::numeric_limits<double>::quiet_NaN(), nullptr,
                                         nullptr, where),
                         contains(where + ": eps: expected a finite number"), kiln::Error);
  }
  SUBCASE("vector length differs from the output channels") {
    Tensor short_var = random_tensor({3}, rng, 0.1, 2);
    CHECK_THROWS_WITH_AS(
        fold_bn_weights(w, nullptr, bn.mean, short_var, 1e-5, nullptr, nullptr, where),
        contains(where + ": running_var: expected shape [4] (one per output channel), "
                                  "got [3]"),
        kiln::Error);
  }
}

}  // namespace
