// ONNX tensors (initializers, Constant values) as the loader's constants.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace kiln::loaders::from_onnx {

// In an integer constant made by Shape: the free batch dimension, a size
// known only when the model is compiled.
constexpr int64_t kBatchElement = std::numeric_limits<int64_t>::min();

// A tensor whose data is known while loading. Float tensors become Kiln
// parameters where an op takes them as weights; integer ones (shapes, axes,
// indices; ONNX int64, int32 and bool) only steer the conversion.
struct Constant {
  enum class Type { f32, i64 };
  Type type = Type::f32;
  ir::Shape shape;                          // ONNX dims; [] is a scalar
  std::shared_ptr<const ir::Tensor> f32;    // Type::f32: the data (its own shape may differ: a
                                            // reshaped constant shares the tensor it came from)
  std::vector<int64_t> i64;                 // Type::i64: the data, C order

  int64_t numel() const;
};

// Where a tensor's bytes may come from besides the .onnx file itself.
struct TensorFiles {
  std::filesystem::path root;  // the model's folder, canonical: external data must stay inside
  std::string file;            // the .onnx file, for messages
};

// Reads `t` (its dims, data type and data: inline, raw or external). `where`
// names it in errors ("model.onnx: initializer 'conv1.weight'"). Refuses
// negative dims, dims that promise more (or less) data than there is, element
// counts past the limits, types Kiln does not read, and external data that
// leaves the folder or does not fit its file.
std::shared_ptr<const Constant> read_tensor(const ::onnx::TensorProto& t, const std::string& where,
                                            const TensorFiles& files);

// "float32", "int64", ... for messages.
std::string onnx_type_name(int32_t data_type);

}  // namespace kiln::loaders::from_onnx
