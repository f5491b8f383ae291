// BatchNormalization -> batchnorm (inference: the running statistics).
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
