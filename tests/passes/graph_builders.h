// Small graphs for the pass tests: the op table, a seeded conv, and the
// relative error the tests compare a fused graph's outputs with.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine/engine.h"
#include "ir/graph.h"
#include "ops/registry.h"
#include "passes/pass.h"
#include "tests/ops/reference.h"

namespace kiln::test {

inline const ir::OpTable& ops() { return ops::registry().schemas(); }

// A conv2d `name` (kernel x kernel, same padding, with bias; weights seeded
// from `seed`, in [-0.3, 0.3]) on x; returns its output.
inline ir::Value* add_conv(ir::Graph& g, const std::string& name, ir::Value* x, int64_t ic,
                           int64_t oc, uint64_t seed, int64_t kernel = 3) {
  const int64_t pad = kernel / 2;
  return g.add_node(name, "conv2d",
                    {x,
                     g.add_param(name + ".weight",
                                 random_tensor({oc, ic, kernel, kernel}, seed, -0.3, 0.3)),
                     g.add_param(name + ".bias", random_tensor({oc}, seed + 1, -0.3, 0.3))},
                    {{"padding", std::vector<int64_t>{pad, pad}}})
      ->output;
}

// max |got - want| / max |want|.
inline double relative_error(const ir::Tensor& got, const ir::Tensor& want) {
  REQUIRE(got.shape == want.shape);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.data.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got.data[i]) - double(want.data[i])));
    scale = std::max(scale, std::fabs(double(want.data[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// Runs `pass` on g through run_passes (verify after it) and checks every
// output on `inputs` against the graph before the pass, within `rtol`.
inline passes::PassReport pass_and_compare(ir::Graph& g, const passes::Pass& pass,
                                           const std::vector<ir::Tensor>& inputs,
                                           double rtol = 1e-5) {
  ir::Graph original = g.clone();
  passes::PassReport report = passes::run_passes(g, {pass}, ops()).at(0);
  std::vector<ir::Tensor> want = engine::run_graph(original, inputs);
  std::vector<ir::Tensor> got = engine::run_graph(g, inputs);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(relative_error(got[i], want[i]) < rtol);
  return report;
}

}  // namespace kiln::test

// The names the pass tests share, taken in with
// `using namespace kiln::test::pass_test_names;`.
namespace kiln::test::pass_test_names {
using ir::Graph;
using ir::Node;
using ir::Shape;
using ir::Tensor;
using ir::Value;
using passes::PassReport;
using test::add_conv;
using test::ops;
using test::random_tensor;
using test::relative_error;
}  // namespace kiln::test::pass_test_names
