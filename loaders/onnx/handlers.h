// The ONNX ops Kiln converts: one small handler per op type, in a plain list
// (handlers.cpp). A handler reads its node's inputs and attributes, adds the
// Kiln nodes (or constants, or aliases) that compute its outputs, throws
// kiln::Error for a malformed node and Unsupported (node.unsupported()) for
// a feature Kiln cannot run yet. Adding an op: one function, one line.
#pragma once

#include <string>
#include <vector>

#include "loaders/onnx/convert.h"

namespace kiln::loaders::from_onnx {

using Handler = void (*)(OnnxNode& node);

struct OpHandler {
  const char* op_type;  // in the default domain ("" or "ai.onnx")
  Handler convert;
};

const std::vector<OpHandler>& handlers();
// The handler of an op type, or nullptr.
Handler find_handler(const std::string& op_type);

// conv_pool.cpp
void convert_conv(OnnxNode& node);
void convert_max_pool(OnnxNode& node);
void convert_average_pool(OnnxNode& node);
void convert_global_average_pool(OnnxNode& node);
// normalization.cpp
void convert_batch_normalization(OnnxNode& node);
void convert_layer_normalization(OnnxNode& node);
void convert_reduce_mean(OnnxNode& node);
// dense.cpp
void convert_gemm(OnnxNode& node);
void convert_mat_mul(OnnxNode& node);
// elementwise.cpp
void convert_relu(OnnxNode& node);
void convert_clip(OnnxNode& node);
void convert_sigmoid(OnnxNode& node);
void convert_hard_sigmoid(OnnxNode& node);
void convert_hard_swish(OnnxNode& node);
void convert_tanh(OnnxNode& node);
void convert_leaky_relu(OnnxNode& node);
void convert_elu(OnnxNode& node);
void convert_erf(OnnxNode& node);
void convert_gelu(OnnxNode& node);  // the pattern patterns.cpp finds
// binary.cpp
void convert_add(OnnxNode& node);
void convert_sub(OnnxNode& node);
void convert_mul(OnnxNode& node);
void convert_div(OnnxNode& node);
// passthrough.cpp
void convert_identity(OnnxNode& node);
void convert_dropout(OnnxNode& node);
void convert_constant(OnnxNode& node);
void convert_cast(OnnxNode& node);
void convert_pad(OnnxNode& node);
// shape.cpp
void convert_flatten(OnnxNode& node);
void convert_reshape(OnnxNode& node);
void convert_shape(OnnxNode& node);
void convert_gather(OnnxNode& node);
void convert_squeeze(OnnxNode& node);
void convert_unsqueeze(OnnxNode& node);
// layout.cpp
void convert_concat(OnnxNode& node);
void convert_split(OnnxNode& node);
void convert_slice(OnnxNode& node);
void convert_transpose(OnnxNode& node);

}  // namespace kiln::loaders::from_onnx
