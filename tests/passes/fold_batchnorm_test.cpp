#include "passes/fold_batchnorm.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "ops/registry.h"

namespace {

using kiln::ir::Graph;
using kiln::ir::Node;
using kiln::ir::Shape;
using kiln::ir::Tensor;
using kiln::ir::Value;
using kiln::passes::fold_batchnorm;
using kiln::passes::fold_bn_weights;
using kiln::passes::PassReport;

// A seeded generator (splitmix64), the same on every platform.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 7) {}
  double uniform(double lo, double hi) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }
};

Tensor random_tensor(const Shape& shape, Rng& rng, double lo, double hi) {
  Tensor t(shape);
  for (float& v : t.data) v = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

// Batch statistics away from the 0/1/1/0 defaults; every third gamma negative.
struct BnParams {
  Tensor mean, var, gamma, beta;
};

BnParams random_bn(int64_t channels, Rng& rng) {
  BnParams p{random_tensor({channels}, rng, -1, 1), random_tensor({channels}, rng, 0.1, 2),
             random_tensor({channels}, rng, 0.5, 1.5), random_tensor({channels}, rng, -1, 1)};
  for (int64_t c = 1; c < channels; c += 3) p.gamma.data[c] = -p.gamma.data[c];
  return p;
}

// --- plain double references -------------------------------------------------

struct ConvGeometry {
  int64_t stride = 1, pad = 0, dilation = 1, groups = 1;
};

// y = conv2d(x, w, b) in double; x [N, IC, H, W], w [OC, IC/groups, KH, KW].
std::vector<double> conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, ConvGeometry g,
                             Shape* out_shape) {
  const int64_t n = x.shape[0], ic = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t oc = w.shape[0], icg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t oh = (h + 2 * g.pad - g.dilation * (kh - 1) - 1) / g.stride + 1;
  const int64_t ow = (wd + 2 * g.pad - g.dilation * (kw - 1) - 1) / g.stride + 1;
  const int64_t ocg = oc / g.groups;
  REQUIRE(icg * g.groups == ic);
  *out_shape = {n, oc, oh, ow};
  std::vector<double> y(static_cast<size_t>(n * oc * oh * ow));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t o = 0; o < oc; ++o)
      for (int64_t yi = 0; yi < oh; ++yi)
        for (int64_t xi = 0; xi < ow; ++xi) {
          double sum = b ? b->data[o] : 0.0;
          int64_t group = o / ocg;
          for (int64_t c = 0; c < icg; ++c)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t sy = yi * g.stride - g.pad + ky * g.dilation;
                int64_t sx = xi * g.stride - g.pad + kx * g.dilation;
                if (sy < 0 || sy >= h || sx < 0 || sx >= wd) continue;
                int64_t cin = group * icg + c;
                sum += static_cast<double>(x.data[((in * ic + cin) * h + sy) * wd + sx]) *
                       w.data[((o * icg + c) * kh + ky) * kw + kx];
              }
          y[((in * oc + o) * oh + yi) * ow + xi] = sum;
        }
  return y;
}

// y = linear(x, w, b) in double; x [N, IN], w [OUT, IN].
std::vector<double> linear_ref(const Tensor& x, const Tensor& w, const Tensor* b) {
  const int64_t n = x.shape[0], in = x.shape[1], out = w.shape[0];
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double sum = b ? b->data[o] : 0.0;
      for (int64_t k = 0; k < in; ++k) sum += static_cast<double>(x.data[i * in + k]) * w.data[o * in + k];
      y[i * out + o] = sum;
    }
  return y;
}

// Inference batchnorm in double on [N, C, spatial...] laid out as N x C x `spatial`.
void bn_ref(std::vector<double>& y, int64_t channels, int64_t spatial, const BnParams& p,
            double eps, bool affine) {
  for (size_t i = 0; i < y.size(); ++i) {
    int64_t c = static_cast<int64_t>(i) / spatial % channels;
    double g = affine ? p.gamma.data[c] : 1.0;
    double be = affine ? p.beta.data[c] : 0.0;
    y[i] = (y[i] - p.mean.data[c]) / std::sqrt(static_cast<double>(p.var.data[c]) + eps) * g + be;
  }
}

// doctest::Contains takes a doctest::String; this takes a std::string.
doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// max |a - b| relative to max |b|.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(a[i] - b[i]));
  return diff / std::max(max_abs(b), 1e-30);
}

double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape == b.shape);
  return relative_error(std::vector<double>(a.data.begin(), a.data.end()),
                        std::vector<double>(b.data.begin(), b.data.end()));
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

  Shape shape;
  std::vector<double> expected = conv_ref(x, w, cc.bias ? &b : nullptr, cc.geometry, &shape);
  bn_ref(expected, cc.oc, shape[2] * shape[3], bn, eps, cc.affine);

  auto folded = fold_bn_weights(w, cc.bias ? &b : nullptr, bn.mean, bn.var, eps,
                                cc.affine ? &bn.gamma : nullptr, cc.affine ? &bn.beta : nullptr,
                                "node 'bn' (batchnorm)");
  CHECK(folded.weight.shape == w.shape);
  CHECK(folded.bias.shape == Shape{cc.oc});
  Shape folded_shape;
  std::vector<double> got = conv_ref(x, folded.weight, &folded.bias, cc.geometry, &folded_shape);
  CHECK(folded_shape == shape);
  CHECK(relative_error(got, expected) < 1e-5);
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

  std::vector<double> expected = linear_ref(x, w, &b);
  bn_ref(expected, 6, 1, bn, eps, true);
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

// --- the pass on graphs ----------------------------------------------------------

const kiln::ir::OpTable& ops() { return kiln::ops::registry().schemas(); }

std::vector<PassReport> run_fold(Graph& g) {
  return kiln::passes::run_passes(g, {{"fold_batchnorm", fold_batchnorm}}, ops());
}

Value* add_conv(Graph& g, Rng& rng, const std::string& name, Value* x, int64_t ic, int64_t oc,
                bool bias) {
  std::vector<Value*> inputs = {
      x, g.add_param(name + ".weight", random_tensor({oc, ic, 3, 3}, rng, -0.3, 0.3))};
  if (bias) inputs.push_back(g.add_param(name + ".bias", random_tensor({oc}, rng, -0.3, 0.3)));
  return g.add_node(name, "conv2d", inputs, {{"padding", std::vector<int64_t>{1, 1}}})->output;
}

Value* add_bn(Graph& g, Rng& rng, const std::string& name, Value* x, int64_t channels,
              bool affine = true) {
  BnParams p = random_bn(channels, rng);
  std::vector<Value*> inputs = {x, g.add_param(name + ".running_mean", p.mean),
                                g.add_param(name + ".running_var", p.var)};
  if (affine) {
    inputs.push_back(g.add_param(name + ".weight", p.gamma));
    inputs.push_back(g.add_param(name + ".bias", p.beta));
  }
  return g.add_node(name, "batchnorm", inputs, {{"eps", 1e-3}})->output;
}

Tensor random_input(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  return random_tensor(shape, rng, -1, 1);
}

// Runs fold_batchnorm (verify after it) on a copy and checks the outputs match the original.
PassReport fold_and_compare(Graph& g, const Tensor& x, double tolerance = 1e-5) {
  Graph original = g.clone();
  std::vector<PassReport> reports = run_fold(g);
  REQUIRE(reports.size() == 1);
  std::vector<Tensor> expected = kiln::engine::run_graph(original, {x});
  std::vector<Tensor> got = kiln::engine::run_graph(g, {x});
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(relative_error(got[i], expected[i]) < tolerance);
  return reports[0];
}

const Node* find_node(const Graph& g, const std::string& name) {
  const Node* n = g.find_node(name);
  REQUIRE(n != nullptr);
  return n;
}

TEST_CASE("fold_batchnorm folds a bias-free conv and its BN into one conv with a bias") {
  Graph g;
  Rng rng(21);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, false);
  g.set_outputs({add_bn(g, rng, "bn", conv, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 1));
  CHECK(r.pass == "fold_batchnorm");
  CHECK(r.changed == std::vector<std::string>{"bn into conv"});
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  const Node* c = find_node(g, "conv");
  REQUIRE(c->inputs.size() == 3);
  CHECK(c->inputs[1]->name == "conv.weight_folded");
  CHECK(c->inputs[2]->name == "conv.bias_folded");
  // The conv's output keeps its name and is now the graph output.
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0] == c->output);
  // The old weights and the BN's statistics are gone.
  CHECK(g.find_value("conv.weight") == nullptr);
  CHECK(g.find_value("bn.running_mean") == nullptr);
  CHECK(g.find_value("bn.weight") == nullptr);
  CHECK(g.params().size() == 2);
}

TEST_CASE("fold_batchnorm points the BN's users at the conv and replaces an existing bias") {
  Graph g;
  Rng rng(22);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 6, 5});
  Value* conv = add_conv(g, rng, "conv", x, 3, 5, true);
  Value* bn = add_bn(g, rng, "bn", conv, 5, false);
  Node* relu = g.add_node("relu", "relu", {bn});
  g.set_outputs({relu->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({1, 3, 6, 5}, 2));
  CHECK(r.changed == std::vector<std::string>{"bn into conv"});
  const Node* c = find_node(g, "conv");
  REQUIRE(c->inputs.size() == 3);
  CHECK(c->inputs[2]->name == "conv.bias_folded");
  CHECK(find_node(g, "relu")->inputs[0] == c->output);
  CHECK(c->output->users.size() == 1);
  CHECK(g.find_value("conv.bias") == nullptr);
}

TEST_CASE("fold_batchnorm skips a conv whose output has two users") {
  Graph g;
  Rng rng(23);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn = add_bn(g, rng, "bn", conv, 4);
  Node* relu = g.add_node("relu", "relu", {conv});
  g.set_outputs({g.add_node("add", "add", {bn, relu->output})->output});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 3));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "bn");
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' has 2 users (bn, relu); folding would change what the "
        "others read");
  CHECK(g.count_op("batchnorm") == 1);
  CHECK(g.find_value("conv.weight") != nullptr);
}

TEST_CASE("fold_batchnorm skips a BN that follows a relu") {
  Graph g;
  Rng rng(24);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Node* relu = g.add_node("relu", "relu", {conv});
  g.set_outputs({add_bn(g, rng, "bn", relu->output, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = run_fold(g).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "bn");
  CHECK(r.skipped[0].reason == "input 'relu' is produced by relu, not conv2d or linear");
  CHECK(g.count_op("batchnorm") == 1);
}

TEST_CASE("fold_batchnorm skips a BN that reads a graph input") {
  Graph g;
  Rng rng(25);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 3, 3});
  g.set_outputs({add_bn(g, rng, "bn", x, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = run_fold(g).at(0);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason == "input 'x' is a graph input, not produced by conv2d or linear");
}

TEST_CASE("fold_batchnorm skips a conv whose output is also a graph output") {
  Graph g;
  Rng rng(26);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 8, 8});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn = add_bn(g, rng, "bn", conv, 4);
  g.set_outputs({conv, bn});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 8, 8}, 4));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].reason ==
        "the output of conv2d 'conv' is also a graph output; folding would change it");
  CHECK(g.count_op("batchnorm") == 1);
  CHECK(g.outputs()[0]->name == "conv");
  CHECK(g.outputs()[1]->name == "bn");
}

TEST_CASE("fold_batchnorm skips convs that share a weight parameter") {
  Graph g;
  Rng rng(27);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 5, 5});
  Value* w = g.add_param("shared.weight", random_tensor({4, 4, 3, 3}, rng, -0.3, 0.3));
  kiln::ir::Attrs pad = {{"padding", std::vector<int64_t>{1, 1}}};
  Value* a = g.add_node("conv_a", "conv2d", {x, w}, pad)->output;
  Value* bn_a = add_bn(g, rng, "bn_a", a, 4);
  Value* b = g.add_node("conv_b", "conv2d", {bn_a, w}, pad)->output;
  g.set_outputs({add_bn(g, rng, "bn_b", b, 4)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({1, 4, 5, 5}, 5));
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].reason == "conv2d 'conv_a': weight 'shared.weight' is also used by conv_b");
  CHECK(g.count_op("batchnorm") == 2);
}

TEST_CASE("fold_batchnorm folds two BNs in a row into the same conv") {
  Graph g;
  Rng rng(28);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 6, 6});
  Value* conv = add_conv(g, rng, "conv", x, 3, 4, true);
  Value* bn1 = add_bn(g, rng, "bn1", conv, 4);
  g.set_outputs({add_bn(g, rng, "bn2", bn1, 4, false)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({2, 3, 6, 6}, 6));
  CHECK(r.changed == std::vector<std::string>{"bn1 into conv", "bn2 into conv"});
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.params().size() == 2);
}

TEST_CASE("fold_batchnorm folds a BN on [N, C] into the linear before it") {
  Graph g;
  Rng rng(29);
  Value* x = g.add_input("x", {kiln::ir::kBatch, 7});
  Value* w = g.add_param("fc.weight", random_tensor({6, 7}, rng, -0.4, 0.4));
  Value* b = g.add_param("fc.bias", random_tensor({6}, rng, -0.4, 0.4));
  Value* fc = g.add_node("fc", "linear", {x, w, b})->output;
  g.set_outputs({add_bn(g, rng, "bn", fc, 6)});
  kiln::ir::infer_shapes(g, ops());

  PassReport r = fold_and_compare(g, random_input({3, 7}, 7));
  CHECK(r.changed == std::vector<std::string>{"bn into fc"});
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(find_node(g, "fc")->inputs[1]->name == "fc.weight_folded");
}

// x -> conv (3 -> 2 channels, with bias) -> bn, whose running_var is then
// replaced by 'bad_var' = [0.5, -1]; with `infer_first`, shapes are inferred
// before the replacement (as if the statistics changed after the load's checks).
struct BadVarGraph {
  Graph g;
  Value* conv;
};
BadVarGraph conv_bn_with_bad_var(uint64_t seed, bool infer_first) {
  BadVarGraph b;
  Rng rng(seed);
  Value* x = b.g.add_input("x", {kiln::ir::kBatch, 3, 4, 4});
  b.conv = add_conv(b.g, rng, "conv", x, 3, 2, true);
  Value* bn = add_bn(b.g, rng, "bn", b.conv, 2);
  b.g.set_outputs({bn});
  if (infer_first) kiln::ir::infer_shapes(b.g, ops());
  b.g.set_input(bn->producer, 2, b.g.add_param("bad_var", Tensor({2}, {0.5f, -1.0f})));
  return b;
}

TEST_CASE("a BN whose var + eps is not positive is refused before any pass runs, naming it") {
  // batchnorm's validate() rejects it at load, so neither an unfused run (NaN)
  // nor the fold (fold_bn_weights throws too, see above) ever sees it.
  Graph g = conv_bn_with_bad_var(30, false).g;

  CHECK_THROWS_WITH_AS(kiln::ir::infer_shapes(g, ops()),
                       doctest::Contains("node 'bn' (batchnorm): running_var 'bad_var': channel 1: "
                                         "running_var + eps must be positive"),
                       kiln::Error);
}

TEST_CASE("a fold refused for var + eps <= 0 leaves the conv's weight as it was") {
  // Reached only by statistics changed after the load's checks; the weight
  // the fold would have rescaled in place must survive the refusal.
  BadVarGraph b = conv_bn_with_bad_var(31, true);
  Graph& g = b.g;
  Value* conv = b.conv;
  const Value* weight = conv->producer->inputs[1];
  const kiln::ir::TensorData before = weight->data->data;

  CHECK_THROWS_WITH_AS(fold_batchnorm(g), doctest::Contains("running_var + eps must be positive"),
                       kiln::Error);
  REQUIRE(conv->producer->inputs[1] == weight);
  CHECK(weight->data->data == before);
}

TEST_CASE("fold_batchnorm rescales weights it alone owns in place, copies shared ones, same values") {
  Graph original = kiln::loaders::builtin_model("resnet18", 4);
  kiln::ir::infer_shapes(original, ops());
  Graph shared = original.clone();  // shares every weight tensor with `original`
  Graph owned = kiln::loaders::builtin_model("resnet18", 4);
  kiln::ir::infer_shapes(owned, ops());
  std::vector<kiln::ir::TensorData> before;
  for (const auto& node : original.nodes())
    if (node->op == "conv2d") before.push_back(node->inputs[1]->data->data);

  fold_batchnorm(shared);
  fold_batchnorm(owned);

  size_t i = 0;
  for (const auto& node : original.nodes()) {
    if (node->op != "conv2d") continue;
    CAPTURE(node->name);
    CHECK(node->inputs[1]->data->data == before[i++]);  // the shared original is untouched
  }
  std::vector<const Node*> a, b;
  for (const auto& node : shared.nodes())
    if (node->op == "conv2d") a.push_back(node.get());
  for (const auto& node : owned.nodes())
    if (node->op == "conv2d") b.push_back(node.get());
  REQUIRE(a.size() == 20);
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    CAPTURE(a[k]->name);
    CHECK(a[k]->inputs[1]->data->data == b[k]->inputs[1]->data->data);
    CHECK(a[k]->inputs[2]->data->data == b[k]->inputs[2]->data->data);
    CHECK(a[k]->inputs[1]->data->data != before[k]);  // and it was rescaled
  }
}

TEST_CASE("fold_batchnorm folds all three BNs of the FX tutorial's model") {
  Graph g = kiln::loaders::builtin_model("tutorial", 1);
  kiln::ir::infer_shapes(g, ops());
  REQUIRE(g.count_op("batchnorm") == 3);

  PassReport r = fold_and_compare(g, random_input({5, 1, 1, 1}, 8));
  CHECK(r.changed == std::vector<std::string>{"bn1 into conv1", "nested.0 into conv2",
                                              "wrapped.mod into nested.1"});
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.count_op("conv2d") == 3);
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "nested.1");
}

TEST_CASE("fold_batchnorm folds all 20 BNs of resnet18 and keeps its outputs") {
  Graph g = kiln::loaders::builtin_model("resnet18", 2);
  kiln::ir::infer_shapes(g, ops());
  REQUIRE(g.count_op("batchnorm") == 20);

  PassReport r = fold_and_compare(g, random_input({2, 3, 224, 224}, 9));
  CHECK(r.changed.size() == 20);
  CHECK(r.skipped.empty());
  CHECK(g.count_op("batchnorm") == 0);
  CHECK(g.count_op("conv2d") == 20);
  for (const auto& node : g.nodes()) {
    if (node->op == "conv2d") CHECK(node->inputs.size() == 3);
  }
}

}  // namespace
