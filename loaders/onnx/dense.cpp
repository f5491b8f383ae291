// Gemm and MatMul -> linear, where they are one: y = x W^T + b with x an
// activation [N, IN] and W, b constants.
//
// Gemm computes Y = alpha * A' B' + beta * C (A' = A or A^T by transA, B'
// likewise). With A an activation and B, C constants that is linear with
//   weight = alpha * B'^T   [OUT, IN]
//   bias   = beta * C       C of shape [OUT], [1, OUT], [1], [1, 1] or []
// (alpha and beta are applied to the constants once, in float32). MatMul of
// an activation [..., IN] by a 2-D constant is linear without bias.
#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

namespace {

// The activation x [..., IN] of a Gemm (rank 2) or MatMul (rank 2 to 6).
ir::Value* rows(const OnnxNode& n, size_t max_rank) {
  ir::Value* a = n.activation(0);
  if (a->shape.size() < 2 || a->shape.size() > max_rank)
    n.unsupported("input " + ir::shape_str(a->shape) + " of rank other than 2 to " + std::to_string(max_rank) +
                  " (Kiln's linear takes [..., IN])");
  return a;
}

// Input i, a 2-D float32 constant [K, M], as a weight [OUT, IN]: transposed
// unless `transposed` already, times `scale`.
ir::Value* weight(OnnxNode& n, size_t i, bool transposed, float scale) {
  std::shared_ptr<const Constant> b = n.constant(i);
  if (b->shape.size() != 2) n.fail("input " + std::to_string(i) + " " + ir::shape_str(b->shape) + ": expected a matrix");
  if (transposed && scale == 1.0f) return n.param(i);
  const std::string how = std::string(transposed ? "" : "transposed, ") + "x" + std::to_string(scale);
  return n.derived_param(i, how, [&] {
    const int64_t rows = b->shape[0], cols = b->shape[1];
    ir::Tensor w(transposed ? ir::Shape{rows, cols} : ir::Shape{cols, rows});
    const ir::TensorData& src = b->f32->data;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const float v = src[static_cast<size_t>(r * cols + c)] * scale;
        w.data[static_cast<size_t>(transposed ? r * cols + c : c * rows + r)] = v;
      }
    }
    return w;
  });
}

// Gemm's C as a bias [OUT], or nullptr when beta is 0.
ir::Value* gemm_bias(OnnxNode& n, int64_t out, float beta) {
  if (!n.has_input(2) || beta == 0.0f) return nullptr;
  std::shared_ptr<const Constant> c = n.constant(2);
  if (c->type != Constant::Type::f32) n.fail("input 2 (C): expected float32 data");
  const ir::Shape& s = c->shape;
  const bool vector = (s == ir::Shape{out} || s == ir::Shape{1, out});
  const bool scalar = c->numel() == 1 && s.size() <= 2;
  if (!vector && !scalar)
    n.unsupported("C of shape " + ir::shape_str(s) + " (Kiln's linear adds a bias [" +
                  std::to_string(out) + "]; other shapes wait for broadcast add)");
  if (s == ir::Shape{out} && beta == 1.0f) return n.param(2);
  return n.derived_param(2, "bias [" + std::to_string(out) + "], x" + std::to_string(beta), [&] {
    ir::Tensor bias(ir::Shape{out});
    for (int64_t o = 0; o < out; ++o) bias.data[static_cast<size_t>(o)] = c->f32->data[vector ? o : 0] * beta;
    return bias;
  });
}

}  // namespace

void convert_gemm(OnnxNode& n) {
  n.check_attrs({"alpha", "beta", "transA", "transB"});
  if (n.attr_int("transA", 0) != 0) n.unsupported("transA 1 (Kiln's linear takes A as [N, IN])");
  const bool trans_b = n.attr_int("transB", 0) != 0;
  ir::Value* x = rows(n, 2);
  ir::Value* w = weight(n, 1, trans_b, n.attr_float("alpha", 1.0f));
  std::vector<ir::Value*> inputs = {x, w};
  if (ir::Value* b = gemm_bias(n, w->shape[0], n.attr_float("beta", 1.0f))) inputs.push_back(b);
  n.add_node("linear", inputs);
}

void convert_mat_mul(OnnxNode& n) {
  n.check_attrs({});
  if (!n.is_constant(1))
    n.unsupported("B is computed at run time (Kiln's linear multiplies by a constant weight)");
  ir::Value* x = rows(n, 6);
  n.add_node("linear", {x, weight(n, 1, /*transposed=*/false, 1.0f)});
}

}  // namespace kiln::loaders::from_onnx
