#include "ir/tensor.h"

#include <limits>

#include "ir/error.h"

namespace kiln::ir {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
  }
  return 0;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("shape " + shape_str(shape) + ": dimensions must be non-negative");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error("shape " + shape_str(shape) + ": element count overflows");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] == kBatch ? std::string("N") : std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace kiln::ir
