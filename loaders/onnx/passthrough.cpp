// Identity, Dropout and Constant: no Kiln node. Identity and Dropout (at
// inference) pass their input on; Constant makes a constant that later ops
// take as a weight or fold.
#include "ir/error.h"
#include "loaders/onnx/handlers.h"
#include "loaders/onnx/onnx.h"

namespace kiln::loaders::from_onnx {

using ::onnx::AttributeProto;

void convert_identity(OnnxNode& n) {
  n.check_attrs({});
  n.alias(0, 0);
}

void convert_dropout(OnnxNode& n) {
  n.check_attrs({"seed", "ratio"});  // ratio: an attribute before opset 12 (not read here)
  if (n.has_input(2)) {
    const std::vector<int64_t>& training = n.ints(2);
    if (training.size() != 1) n.fail("input 2 (training_mode): expected a scalar");
    if (training[0] != 0) n.unsupported("training_mode true (Kiln runs inference)");
  }
  n.alias(0, 0);
}

void convert_constant(OnnxNode& n) {
  if (n.proto().attribute_size() != 1)
    n.fail("expected exactly one attribute (value, value_float, value_floats, value_int or "
           "value_ints), got " + std::to_string(n.proto().attribute_size()));
  const AttributeProto& a = n.proto().attribute(0);
  const int type = attribute_type(a);
  Constant c;
  if (a.name() == "value" && type == AttributeProto::TENSOR) {
    c = *read_tensor(a.t(), n.where() + ": attribute 'value'", n.files());
  } else if (a.name() == "value_float" && type == AttributeProto::FLOAT) {
    c.f32 = std::make_shared<ir::Tensor>(ir::Shape{}, ir::TensorData{a.f()});
  } else if (a.name() == "value_floats" && (type == AttributeProto::FLOATS || type == AttributeProto::UNDEFINED)) {
    c.shape = {a.floats_size()};
    c.f32 = std::make_shared<ir::Tensor>(c.shape, ir::TensorData(a.floats().begin(), a.floats().end()));
  } else if (a.name() == "value_int" && type == AttributeProto::INT) {
    c.type = Constant::Type::i64;
    c.i64 = {a.i()};
  } else if (a.name() == "value_ints" && (type == AttributeProto::INTS || type == AttributeProto::UNDEFINED)) {
    c.type = Constant::Type::i64;
    c.shape = {a.ints_size()};
    c.i64.assign(a.ints().begin(), a.ints().end());
  } else if (a.name() == "sparse_value" || a.name() == "value_string" || a.name() == "value_strings") {
    n.unsupported("attribute '" + a.name() + "' (Kiln's constants are dense float32 or integer tensors)");
  } else {
    n.fail("attribute '" + a.name().substr(0, 60) + "': expected value, value_float, value_floats, "
           "value_int or value_ints with a value of that type");
  }
  if (c.type == Constant::Type::i64) {
    if (static_cast<int64_t>(c.i64.size()) > kMaxOnnxIntElements)
      n.fail("an integer tensor of " + std::to_string(c.i64.size()) + " elements, more than the limit of " +
             std::to_string(kMaxOnnxIntElements));
    for (int64_t v : c.i64) {
      if (v == kBatchElement) n.fail("an integer of -2^63, out of the range Kiln reads");
    }
  }
  n.count_weight_bytes(c);
  n.set_constant(0, std::move(c));
}

}  // namespace kiln::loaders::from_onnx
