// The elementwise activations: Relu, Clip, Sigmoid, HardSigmoid, HardSwish,
// Tanh, LeakyRelu, Elu -> relu, clamp, sigmoid, hardsigmoid, hardswish, tanh,
// leaky_relu, elu. A lone Erf is unsupported: Kiln has no erf, only the GELU
// that torch.onnx writes around one (x * 0.5 * (1 + Erf(x / sqrt 2))),
// which patterns.cpp finds before the nodes are converted.
//
// Clip to [0, +inf) stays a relu (so the conv fusions see the usual op);
// other bounds are a clamp. HardSigmoid is Kiln's only with alpha 1/6 and
// beta 1/2 (PyTorch's); other slopes are refused.
#include <cmath>
#include <limits>

#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

namespace {

// An activation of input 0 with no attributes of its own.
void unary(OnnxNode& n, const char* op) {
  n.check_attrs({});
  n.add_node(op, {n.activation(0)});
}

// Clip's bound at input i (a scalar constant), or `fallback` when omitted.
float clip_bound(const OnnxNode& n, size_t i, float fallback) {
  if (!n.has_input(i)) return fallback;
  std::shared_ptr<const Constant> c = n.constant(i);
  if (c->type != Constant::Type::f32 || c->numel() != 1)
    n.fail("input " + std::to_string(i) + " '" + n.input_name(i) + "': expected a float32 scalar");
  return c->f32->data[0];
}

bool close_to(float a, double b) { return std::fabs(a - b) <= 1e-6 * std::fabs(b); }

}  // namespace

void convert_relu(OnnxNode& n) { unary(n, "relu"); }
void convert_sigmoid(OnnxNode& n) { unary(n, "sigmoid"); }
void convert_hard_swish(OnnxNode& n) { unary(n, "hardswish"); }
void convert_tanh(OnnxNode& n) { unary(n, "tanh"); }

// Clip: bounds from attributes min/max before opset 11, from inputs 1 and 2 since.
void convert_clip(OnnxNode& n) {
  n.check_attrs({});
  const float inf = std::numeric_limits<float>::infinity();
  const float lo = clip_bound(n, 1, -inf), hi = clip_bound(n, 2, inf);
  ir::Value* x = n.activation(0);
  if (std::isnan(lo) || std::isnan(hi) || lo > hi)
    n.fail("bounds [" + std::to_string(lo) + ", " + std::to_string(hi) + "]: expected min <= max");
  if (lo == 0.0f && hi == inf) {
    n.add_node("relu", {x});
    return;
  }
  if (lo == -inf && hi == inf) return n.alias(0, 0);
  ir::Attrs attrs;
  if (lo != -inf) attrs["min"] = double(lo);
  if (hi != inf) attrs["max"] = double(hi);
  n.add_node("clamp", {x}, attrs);
}

void convert_hard_sigmoid(OnnxNode& n) {
  n.check_attrs({"alpha", "beta"});
  const float alpha = n.attr_float("alpha", 0.2f), beta = n.attr_float("beta", 0.5f);
  ir::Value* x = n.activation(0);
  if (!close_to(alpha, 1.0 / 6.0) || !close_to(beta, 0.5))
    n.unsupported("alpha " + std::to_string(alpha) + ", beta " + std::to_string(beta) +
                  " (Kiln's hardsigmoid is PyTorch's: alpha 1/6, beta 0.5)");
  n.add_node("hardsigmoid", {x});
}

void convert_leaky_relu(OnnxNode& n) {
  n.check_attrs({"alpha"});
  n.add_node("leaky_relu", {n.activation(0)}, {{"negative_slope", double(n.attr_float("alpha", 0.01f))}});
}

void convert_elu(OnnxNode& n) {
  n.check_attrs({"alpha"});
  n.add_node("elu", {n.activation(0)}, {{"alpha", double(n.attr_float("alpha", 1.0f))}});
}

void convert_erf(OnnxNode& n) {
  n.check_attrs({});
  n.activation(0);
  n.unsupported("Erf outside the GELU pattern x * 0.5 * (1 + Erf(x / sqrt(2))) (Kiln has gelu, no erf)");
}

// The GELU that patterns.cpp found: input 0 is x.
void convert_gelu(OnnxNode& n) {
  n.add_node("gelu", {n.activation(0)}, {{"approximate", std::string("none")}});
}

}  // namespace kiln::loaders::from_onnx
