#include <doctest/doctest.h>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using Ints = std::vector<int64_t>;

TEST_CASE("layer_norm normalises over the last dims with weight and bias, weight alone or neither") {
  struct Case {
    ir::Shape x;
    Ints normalized;
  };
  const Case cases[] = {
      {{2, 5, 7, 33}, {33}},  // ConvNeXt: [N, H, W, C]
      {{2, 5, 7, 33}, {7, 33}},
      {{2, 5, 7, 33}, {5, 7, 33}},
      {{2, 9, 65}, {65}},  // a transformer's tokens
      {{2, 17}, {17}},
  };
  uint64_t seed = 800;
  for (const Case& c : cases) {
    ir::Tensor x = random_tensor(c.x, ++seed, -2.0, 3.0);
    ir::Shape ns(c.normalized.begin(), c.normalized.end());
    ir::Tensor w = random_tensor(ns, ++seed, 0.5, 1.5), b = random_tensor(ns, ++seed);
    RefTensor rw = to_ref(w), rb = to_ref(b);
    for (size_t affine = 0; affine <= 2; ++affine) {
      CAPTURE(ir::shape_str(c.x));
      CAPTURE(ir::attr_str(c.normalized));
      CAPTURE(affine);
      std::vector<ir::Tensor> params(affine >= 1 ? 1 : 0, w);
      if (affine == 2) params.push_back(b);
      const double eps = affine == 1 ? 1e-3 : 1e-5;
      ir::Tensor got = run_op("layer_norm", {x}, params,
                              {{"normalized_shape", c.normalized}, {"eps", eps}});
      RefTensor want = ref_layer_norm(to_ref(x), c.normalized.size(), affine >= 1 ? &rw : nullptr,
                                      affine == 2 ? &rb : nullptr, eps);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
    }
  }
}

TEST_CASE("ConvNeXt's conv -> permute -> layer_norm -> linear -> permute is right") {
  const int64_t C = 20, H = 5, W = 7, HIDDEN = 24;
  ir::Tensor x = random_tensor({2, C, H, W}, 810);
  ir::Tensor conv_w = random_tensor({C, C, 3, 3}, 811, -0.3, 0.3);
  ir::Tensor ln_w = random_tensor({C}, 812, 0.5, 1.5), ln_b = random_tensor({C}, 813);
  ir::Tensor fc_w = random_tensor({HIDDEN, C}, 814, -0.3, 0.3), fc_b = random_tensor({HIDDEN}, 815);
  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, H, W});
  ir::Node* conv = g.add_node("conv", "conv2d", {in, g.add_param("conv.w", conv_w)},
                              {{"padding", Ints{1, 1}}});
  ir::Node* nhwc = g.add_node("nhwc", "permute", {conv->output}, {{"dims", Ints{0, 2, 3, 1}}});
  ir::Node* norm = g.add_node("norm", "layer_norm",
                              {nhwc->output, g.add_param("norm.w", ln_w), g.add_param("norm.b", ln_b)},
                              {{"normalized_shape", Ints{C}}, {"eps", 1e-6}});
  ir::Node* fc = g.add_node("fc", "linear",
                            {norm->output, g.add_param("fc.w", fc_w), g.add_param("fc.b", fc_b)});
  ir::Node* nchw = g.add_node("nchw", "permute", {fc->output}, {{"dims", Ints{0, 3, 1, 2}}});
  g.set_outputs({nchw->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  CHECK(nchw->output->shape == ir::Shape{ir::kBatch, HIDDEN, H, W});

  RefTensor rlw = to_ref(ln_w), rlb = to_ref(ln_b), rfb = to_ref(fc_b);
  RefTensor want = ref_conv2d(to_ref(x), to_ref(conv_w), nullptr, {1, 1}, {1, 1}, {1, 1}, 1);
  want = ref_layer_norm(ref_permute(want, {0, 2, 3, 1}), 1, &rlw, &rlb, 1e-6);
  want = ref_permute(ref_linear(want, to_ref(fc_w), &rfb), {0, 3, 1, 2});
  std::string report;
  CHECK_MESSAGE(count_mismatches(engine::run_graph(g, {x}).at(0), want, 1e-4, report) == 0, report);
}

TEST_CASE("layer_norm rejects a normalized_shape that is not x's last dims, and wrong weights") {
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {}, {{"normalized_shape", Ints{5}}}) ==
        "node 'node' (layer_norm): attribute 'normalized_shape' [5]: expected the last dims of x "
        "'x0' [N, 5, 7]");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {}, {{"normalized_shape", Ints{2, 5, 7}}}) ==
        "node 'node' (layer_norm): attribute 'normalized_shape' [2, 5, 7]: expected the last dims "
        "of x 'x0' [N, 5, 7]");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {}, {{"normalized_shape", Ints{}}}) ==
        "node 'node' (layer_norm): attribute 'normalized_shape' []: expected the last dims of x "
        "'x0' [N, 5, 7]");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {{5, 7}}, {{"normalized_shape", Ints{7}}}) ==
        "node 'node' (layer_norm): weight 'p0': expected shape [7], got [5, 7]");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {{7}, {6}}, {{"normalized_shape", Ints{7}}}) ==
        "node 'node' (layer_norm): bias 'p1': expected shape [7], got [6]");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {}, {{"normalized_shape", Ints{7}}, {"eps", -1.0}}) ==
        "node 'node' (layer_norm): attribute 'eps': expected a finite non-negative number, got -1");
  CHECK(validate_error("layer_norm", {{2, 5, 7}}, {}) ==
        "node 'node' (layer_norm): attribute 'normalized_shape' is required");
}
