// Add, Sub, Mul, Div -> add, sub, mul, div (NumPy broadcasting), and the
// same on two constants folded while loading (torch.onnx's shape arithmetic:
// channels // groups, or a scale computed from constants).
//
// An operand that is a float32 constant becomes a parameter (a scalar stays
// [] or [1]); at least one operand is an activation. On integer constants
// Div truncates, as ONNX's; the free batch (kBatchElement) may not take part
// in arithmetic: a shape that depends on it is refused.
#include <algorithm>
#include <cmath>

#include "loaders/model_dir.h"
#include "loaders/onnx/handlers.h"
#include "loaders/onnx/onnx.h"

namespace kiln::loaders::from_onnx {

namespace {

enum class Arith { add, sub, mul, div };

// The broadcast shape of a and b (NumPy's rule), or a failure naming both.
ir::Shape broadcast(const OnnxNode& n, const ir::Shape& a, const ir::Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  ir::Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1)
      n.fail("cannot broadcast " + ir::shape_str(a) + " with " + ir::shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// The flat index into a tensor of `shape` (right-aligned under `out`) of the
// element at `out` index `flat`, broadcast dims read at 0.
size_t source_index(const ir::Shape& shape, const ir::Shape& out, int64_t flat) {
  size_t index = 0, stride = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    const size_t d = shape.size() - 1 - k, od = out.size() - 1 - k;
    int64_t coord = flat;
    for (size_t j = out.size() - 1; j > od; --j) coord /= out[j];
    coord %= out[od];
    if (shape[d] != 1) index += static_cast<size_t>(coord) * stride;
    stride *= static_cast<size_t>(shape[d]);
  }
  return index;
}

template <typename T>
T apply(const OnnxNode& n, Arith op, T a, T b) {
  switch (op) {
    case Arith::add: return a + b;
    case Arith::sub: return a - b;
    case Arith::mul: return a * b;
    case Arith::div: break;
  }
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) n.fail("integer division by zero");
  }
  return a / b;
}

int64_t checked_int(const OnnxNode& n, Arith op, int64_t a, int64_t b) {
  if (a == kBatchElement || b == kBatchElement)
    n.unsupported("arithmetic on the free batch dimension (Kiln folds shapes whose batch passes through)");
  const int64_t limit = int64_t(1) << 40;  // shapes are far smaller; keeps the arithmetic from overflowing
  if (std::abs(a) > limit || std::abs(b) > limit) n.fail("an integer operand past 2^40");
  return apply(n, op, a, b);
}

// Both operands constant: the result, computed now.
void fold(OnnxNode& n, Arith op) {
  std::shared_ptr<const Constant> a = n.constant(0), b = n.constant(1);
  if (a->type != b->type) n.fail("operands of different types (float32 and integer)");
  Constant c;
  c.type = a->type;
  c.shape = broadcast(n, a->shape, b->shape);
  const int64_t count = c.numel();
  if (c.type == Constant::Type::i64) {
    if (count > kMaxOnnxIntElements) n.fail("the folded result has more than " + std::to_string(kMaxOnnxIntElements) + " elements");
    c.i64.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
      c.i64[static_cast<size_t>(i)] = checked_int(n, op, a->i64[source_index(a->shape, c.shape, i)],
                                                  b->i64[source_index(b->shape, c.shape, i)]);
  } else {
    n.count_copy(static_cast<uint64_t>(count) * sizeof(float));
    auto t = std::make_shared<ir::Tensor>(c.shape);
    for (int64_t i = 0; i < count; ++i)
      t->data[static_cast<size_t>(i)] = apply(n, op, a->f32->data[source_index(a->shape, c.shape, i)],
                                               b->f32->data[source_index(b->shape, c.shape, i)]);
    c.f32 = std::move(t);
  }
  n.set_constant(0, std::move(c));
}

// Operand i: an activation, or a float32 constant as a parameter.
ir::Value* operand(OnnxNode& n, size_t i) {
  if (!n.is_constant(i)) return n.activation(i);
  if (n.constant(i)->type != Constant::Type::f32)
    n.unsupported("an integer constant operand with an activation (Kiln computes in float32)");
  return n.param(i);
}

void binary(OnnxNode& n, Arith op, const char* kiln_op) {
  n.check_attrs({});
  if (n.is_constant(0) && n.is_constant(1)) return fold(n, op);
  ir::Value* a = operand(n, 0);
  ir::Value* b = operand(n, 1);
  n.add_node(kiln_op, {a, b});
}

}  // namespace

void convert_add(OnnxNode& n) { binary(n, Arith::add, "add"); }
void convert_sub(OnnxNode& n) { binary(n, Arith::sub, "sub"); }
void convert_mul(OnnxNode& n) { binary(n, Arith::mul, "mul"); }
void convert_div(OnnxNode& n) { binary(n, Arith::div, "div"); }

}  // namespace kiln::loaders::from_onnx
