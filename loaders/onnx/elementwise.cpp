// Relu, Clip and Add -> relu and add.
//
// Clip to [0, +inf) is a relu; other bounds (ReLU6 is Clip(0, 6)) wait for
// Kiln's clamp. Kiln's add takes two activations of one shape; a constant
// operand or broadcasting waits for Kiln's broadcast add.
#include <cmath>
#include <limits>

#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

void convert_relu(OnnxNode& n) {
  n.check_attrs({});
  n.add_node("relu", {n.activation(0)});
}

// Clip's bound at input i (a scalar constant), or `fallback` when omitted.
static float clip_bound(const OnnxNode& n, size_t i, float fallback) {
  if (!n.has_input(i)) return fallback;
  std::shared_ptr<const Constant> c = n.constant(i);
  if (c->type != Constant::Type::f32 || c->numel() != 1)
    n.fail("input " + std::to_string(i) + " '" + n.input_name(i) + "': expected a float32 scalar");
  return c->f32->data[0];
}

void convert_clip(OnnxNode& n) {
  n.check_attrs({});
  const float inf = std::numeric_limits<float>::infinity();
  const float lo = clip_bound(n, 1, -inf), hi = clip_bound(n, 2, inf);
  ir::Value* x = n.activation(0);
  if (lo != 0.0f || hi != inf)
    n.unsupported("Clip to [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  "] (Kiln has relu, Clip to [0, inf); other bounds wait for Kiln's clamp)");
  n.add_node("relu", {x});
}

void convert_add(OnnxNode& n) {
  n.check_attrs({});
  if (n.is_constant(0) || n.is_constant(1))
    n.unsupported("a constant operand (Kiln's add takes two activations; constants wait for broadcast add)");
  ir::Value* a = n.activation(0);
  ir::Value* b = n.activation(1);
  if (a->shape != b->shape)
    n.unsupported("operands of shapes " + ir::shape_str(a->shape) + " and " + ir::shape_str(b->shape) +
                  " (Kiln's add takes one shape; broadcasting waits for broadcast add)");
  n.add_node("add", {a, b});
}

}  // namespace kiln::loaders::from_onnx
