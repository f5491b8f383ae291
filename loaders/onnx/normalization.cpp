// BatchNormalization -> batchnorm (inference: the running statistics),
// LayerNormalization -> layer_norm, ReduceMean -> mean.
//
// ONNX's inputs are X, scale, B, input_mean, input_var; Kiln's are x,
// running_mean, running_var, weight, bias. A negative variance is refused
// here, where the data is at hand, rather than when the BN is folded.
#include <cmath>

#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

void convert_batch_normalization(OnnxNode& n) {
  n.check_attrs({"epsilon", "momentum", "training_mode"});
  if (n.attr_int("training_mode", 0) != 0)
    n.unsupported("training_mode 1 (Kiln runs inference, with the running statistics)");
  const float eps = n.attr_float("epsilon", 1e-5f);
  if (!(eps >= 0) || !std::isfinite(eps))
    n.fail("attribute 'epsilon': expected a finite non-negative number, got " + std::to_string(eps));
  ir::Value* x = n.activation(0);
  if (x->shape.size() != 2 && x->shape.size() != 4)
    n.unsupported("input " + ir::shape_str(x->shape) + " (Kiln's batchnorm takes [N, C] or [N, C, H, W])");
  std::shared_ptr<const Constant> var = n.constant(4);
  if (var->type == Constant::Type::f32) {
    const ir::TensorData& v = var->f32->data;
    for (size_t c = 0; c < v.size(); ++c) {
      if (!(v[c] >= 0))
        n.fail("input 4 '" + n.input_name(4) + "' (the variance): element " + std::to_string(c) +
               " is " + std::to_string(v[c]) + ", expected a non-negative number");
    }
  }
  ir::Value* scale = n.param(1);
  ir::Value* bias = n.param(2);
  n.add_node("batchnorm", {x, n.param(3), n.param(4), scale, bias}, {{"eps", double(eps)}});
}

}  // namespace kiln::loaders::from_onnx

namespace kiln::loaders::from_onnx {

// ReduceMean (axes an attribute up to opset 17; none: every dim) -> mean.
void convert_reduce_mean(OnnxNode& n) {
  n.check_attrs({"axes", "keepdims"});
  ir::Value* x = n.activation(0);
  std::vector<int64_t> axes = n.attr_ints("axes", {});
  if (axes.empty()) {
    for (size_t d = 0; d < x->shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  const int64_t keepdims = n.attr_int("keepdims", 1);
  if (keepdims != 0 && keepdims != 1) n.fail("attribute 'keepdims': expected 0 or 1, got " + std::to_string(keepdims));
  n.add_node("mean", {x}, {{"dims", axes}, {"keepdim", keepdims}});
}

// LayerNormalization (opset 17) -> layer_norm over x's dims from `axis` on.
// Scale and B must have exactly those dims (Kiln's weight and bias).
void convert_layer_normalization(OnnxNode& n) {
  n.check_attrs({"axis", "epsilon", "stash_type"});
  ir::Value* x = n.activation(0);
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t axis = n.attr_int("axis", -1);
  if (axis < -rank || axis >= rank)
    n.fail("attribute 'axis' " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const ir::Shape normalized(x->shape.begin() + axis, x->shape.end());
  const float eps = n.attr_float("epsilon", 1e-5f);
  if (!(eps >= 0) || !std::isfinite(eps))
    n.fail("attribute 'epsilon': expected a finite non-negative number, got " + std::to_string(eps));
  std::vector<ir::Value*> inputs = {x};
  for (size_t i = 1; i <= 2 && n.has_input(i); ++i) {
    if (n.constant(i)->shape != normalized)
      n.unsupported("input " + std::to_string(i) + " " + ir::shape_str(n.constant(i)->shape) +
                    " is not of the normalised shape " + ir::shape_str(normalized));
    inputs.push_back(n.param(i));
  }
  n.add_node("layer_norm", inputs,
             {{"normalized_shape", std::vector<int64_t>(normalized.begin(), normalized.end())}, {"eps", double(eps)}});
}

}  // namespace kiln::loaders::from_onnx
