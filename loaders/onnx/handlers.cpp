// The table of ONNX ops Kiln converts (docs/ONNX.md lists them and what
// happens to the rest); a new op is one function and one line here.
#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

const std::vector<OpHandler>& handlers() {
  static const std::vector<OpHandler> table = {
      {"Conv", convert_conv},
      {"MaxPool", convert_max_pool},
      {"AveragePool", convert_average_pool},
      {"GlobalAveragePool", convert_global_average_pool},
      {"BatchNormalization", convert_batch_normalization},
      {"LayerNormalization", convert_layer_normalization},
      {"ReduceMean", convert_reduce_mean},
      {"Gemm", convert_gemm},
      {"MatMul", convert_mat_mul},
      {"Relu", convert_relu},
      {"Clip", convert_clip},
      {"Sigmoid", convert_sigmoid},
      {"HardSigmoid", convert_hard_sigmoid},
      {"HardSwish", convert_hard_swish},
      {"Tanh", convert_tanh},
      {"LeakyRelu", convert_leaky_relu},
      {"Elu", convert_elu},
      {"Erf", convert_erf},
      {"Add", convert_add},
      {"Sub", convert_sub},
      {"Mul", convert_mul},
      {"Div", convert_div},
      {"Identity", convert_identity},
      {"Dropout", convert_dropout},
      {"Constant", convert_constant},
      {"Cast", convert_cast},
      {"Pad", convert_pad},
      {"Flatten", convert_flatten},
      {"Reshape", convert_reshape},
      {"Shape", convert_shape},
      {"Gather", convert_gather},
      {"Squeeze", convert_squeeze},
      {"Unsqueeze", convert_unsqueeze},
      {"Concat", convert_concat},
      {"Split", convert_split},
      {"Slice", convert_slice},
      {"Transpose", convert_transpose},
  };
  return table;
}

Handler find_handler(const std::string& op_type) {
  for (const OpHandler& h : handlers()) {
    if (op_type == h.op_type) return h.convert;
  }
  return nullptr;
}

}  // namespace kiln::loaders::from_onnx
