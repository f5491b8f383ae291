// Identity, Dropout and Constant: no Kiln node. Identity and Dropout (at
// inference) pass their input on; Constant makes a constant that later ops
// take as a weight or fold.
#include <algorithm>
#include <cmath>

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

namespace kiln::loaders::from_onnx {

// Cast: of an activation to float32, nothing; of a constant (shape
// arithmetic casts sizes to float and back), its values converted.
void convert_cast(OnnxNode& n) {
  n.check_attrs({"to", "saturate"});
  const int64_t to = n.attr_int("to", 0);
  const bool to_float = to == ::onnx::TensorProto::FLOAT;
  const bool to_int = to == ::onnx::TensorProto::INT64 || to == ::onnx::TensorProto::INT32;
  if (!n.is_constant(0)) {
    n.activation(0);
    if (!to_float) n.unsupported("Cast of an activation to " + onnx_type_name(static_cast<int32_t>(to)));
    return n.alias(0, 0);
  }
  if (!to_float && !to_int)
    n.unsupported("Cast of a constant to " + onnx_type_name(static_cast<int32_t>(to)));
  Constant c = *n.constant(0);
  if (c.type == Constant::Type::i64 && to_float) {
    auto t = std::make_shared<ir::Tensor>(c.shape);
    for (size_t i = 0; i < c.i64.size(); ++i) {
      if (c.i64[i] == kBatchElement) n.unsupported("a Cast of the free batch dimension to float");
      t->data[i] = static_cast<float>(c.i64[i]);
    }
    c.type = Constant::Type::f32;
    c.f32 = std::move(t);
    c.i64.clear();
  } else if (c.type == Constant::Type::f32 && to_int) {
    if (c.numel() > kMaxOnnxIntElements) n.fail("an integer tensor of more than " + std::to_string(kMaxOnnxIntElements) + " elements");
    c.type = Constant::Type::i64;
    for (float v : c.f32->data) {
      if (!(std::fabs(v) < 9.0e18f)) n.fail("cannot cast " + std::to_string(v) + " to an integer");
      c.i64.push_back(static_cast<int64_t>(v));
    }
    c.f32.reset();
  }
  n.set_constant(0, std::move(c));
}

// Pad: padding by nothing is nothing. Zeros around an image's height and
// width (torch.onnx writes F.avg_pool2d with count_include_pad as Pad then
// AveragePool: Inception-v3) stay pending for the Conv or AveragePool that
// reads them (Entry, convert.h); other padding waits for a pad op.
void convert_pad(OnnxNode& n) {
  n.check_attrs({"mode"});
  ir::Value* x = n.activation(0);
  const std::vector<int64_t>& pads = n.ints(1);
  if (pads.size() != 2 * x->shape.size())
    n.fail("pads " + list_str(pads) + ": expected 2 per dimension of the input " +
           ir::shape_str(x->shape));
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return n.alias(0, 0);
  const std::string why = "pads " + list_str(pads) + " (Kiln pads an image's height and width by "
                          "zeros, inside Conv and AveragePool only)";
  const std::string mode = n.attr_string("mode", "constant");
  if (mode != "constant") n.unsupported("mode '" + mode.substr(0, 40) + "'");
  if (n.has_input(2)) {
    const Constant& value = *n.constant(2);
    if (value.type != Constant::Type::f32 || value.numel() != 1 || value.f32->data[0] != 0.f)
      n.unsupported("a padding value other than 0 " + why);
  }
  const bool image = x->shape.size() == 4 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 &&
                     pads[5] == 0 && std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p >= 0; });
  if (!image) n.unsupported(why);
  n.alias_zero_padded(0, 0, {pads[2], pads[3], pads[6], pads[7]});
}

}  // namespace kiln::loaders::from_onnx
