// The table of ONNX ops Kiln converts. Ops waiting for a Kiln op are listed
// in docs/ONNX.md; each becomes one function and one line here once Kiln
// has the op.
#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

const std::vector<OpHandler>& handlers() {
  static const std::vector<OpHandler> table = {
      {"Conv", convert_conv},
      {"MaxPool", convert_max_pool},
      {"AveragePool", convert_average_pool},
      {"GlobalAveragePool", convert_global_average_pool},
      {"BatchNormalization", convert_batch_normalization},
      {"Gemm", convert_gemm},
      {"MatMul", convert_mat_mul},
      {"Relu", convert_relu},
      {"Clip", convert_clip},
      {"Add", convert_add},
      {"Identity", convert_identity},
      {"Dropout", convert_dropout},
      {"Constant", convert_constant},
      {"Flatten", convert_flatten},
      {"Reshape", convert_reshape},
      {"Shape", convert_shape},
      {"Gather", convert_gather},
      {"Unsqueeze", convert_unsqueeze},
      {"Concat", convert_concat},
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
