// Tensor: a dense, C-ordered block of numbers with a shape.
//
// Kiln computes in float32 today; DType is an enum so that more types can be
// added without changing every signature.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/large_buffer.h"

namespace kiln::ir {

enum class DType { f32 };

// A shape. In a graph, dimension 0 of an activation may be kBatch: the batch
// size, chosen when the graph is compiled, not when it is built.
using Shape = std::vector<int64_t>;
constexpr int64_t kBatch = -1;

const char* dtype_name(DType dtype);  // "float32"
size_t dtype_size(DType dtype);       // bytes per element

// Number of elements; throws kiln::Error if a dimension is negative or the
// product overflows int64.
int64_t shape_numel(const Shape& shape);

// "[N, 64, 56, 56]"
std::string shape_str(const Shape& shape);

// A tensor's elements. Weights and activations are large, so they live on
// huge pages where they can (ir/large_buffer.h); otherwise a std::vector.
using TensorData = std::vector<float, LargeBufferAllocator<float>>;

struct Tensor {
  DType dtype = DType::f32;
  Shape shape;
  TensorData data;  // shape_numel(shape) elements, C order

  Tensor() = default;
  explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape))) {}
  Tensor(Shape s, TensorData d) : shape(std::move(s)), data(std::move(d)) {}

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace kiln::ir
