// OnnxNode: inputs, outputs and typed attributes of one ONNX node, with
// errors that name the file and the node.
#include <algorithm>

#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/onnx/convert.h"

namespace kiln::loaders::from_onnx {

using ::onnx::AttributeProto;

std::string Conversion::take_name(const std::string& base) {
  std::string name = base;
  for (int i = 1; names.count(name); ++i) name = base + "_" + std::to_string(i);
  names.insert(name);
  return name;
}

// Copies may exceed the model's own float32 data by at most this (a legit
// model transposes or reshapes each weight once at most).
static constexpr uint64_t kMaxDerivedBytes = uint64_t(64) << 20;

void Conversion::count_copy(uint64_t bytes, const std::string& where) {
  copied_bytes += bytes;
  if (copied_bytes > weight_bytes + kMaxDerivedBytes)
    throw Error(where, "the conversion would copy " + std::to_string(copied_bytes) +
                           " bytes of weights, more than the model holds (" + std::to_string(weight_bytes) +
                           ") plus " + std::to_string(kMaxDerivedBytes));
}

OnnxNode::OnnxNode(Conversion& conversion, const ::onnx::NodeProto& proto, int64_t opset)
    : conv_(conversion), proto_(proto), opset_(opset) {
  name_ = !proto.name().empty() ? proto.name() : proto.output_size() > 0 ? proto.output(0) : "";
}

std::string OnnxNode::where() const {
  return conv_.files.file + ": node '" + name_ + "' (" + proto_.op_type() + ")";
}

void OnnxNode::fail(const std::string& what) const { throw Error(where(), what); }

void OnnxNode::unsupported(const std::string& why) const { throw Unsupported{why}; }

// --- inputs ----------------------------------------------------------------------

bool OnnxNode::has_input(size_t i) const {
  return i < static_cast<size_t>(proto_.input_size()) && !proto_.input(static_cast<int>(i)).empty();
}

const std::string& OnnxNode::input_name(size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  return proto_.input(static_cast<int>(i));
}

// The conversion visits nodes in topological order: every present input has an entry.
const Entry& OnnxNode::entry(size_t i) const { return conv_.values.at(input_name(i)); }

bool OnnxNode::is_constant(size_t i) const {
  const Entry& e = entry(i);
  if (!e.known() && !e.runtime) throw UnknownInput{};
  return e.constant != nullptr;
}

ir::Value* OnnxNode::activation(size_t i) const {
  std::vector<int64_t> pads;
  ir::Value* x = padded_activation(i, &pads);
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }))
    unsupported("input " + std::to_string(i) + " '" + input_name(i) + "' is a Pad's output " +
                list_str(pads) + " (Kiln pads inside Conv and AveragePool only)");
  return x;
}

ir::Value* OnnxNode::padded_activation(size_t i, std::vector<int64_t>* pads) const {
  const Entry& e = entry(i);
  if (!e.known()) throw UnknownInput{};
  if (!e.value)
    unsupported("input " + std::to_string(i) + " '" + input_name(i) +
                "' is a constant where Kiln computes on activations");
  *pads = e.zero_pads.empty() ? std::vector<int64_t>{0, 0, 0, 0} : e.zero_pads;
  return e.value;
}

std::shared_ptr<const Constant> OnnxNode::constant(size_t i) const {
  const Entry& e = entry(i);
  if (!e.known() && !e.runtime) throw UnknownInput{};
  if (!e.constant)
    unsupported("input " + std::to_string(i) + " '" + input_name(i) +
                "' is computed at run time where Kiln needs a constant");
  return e.constant;
}

const std::vector<int64_t>& OnnxNode::ints(size_t i) const {
  const Constant& c = *constant(i);
  if (c.type != Constant::Type::i64)
    fail("input " + std::to_string(i) + " '" + input_name(i) + "': expected an integer tensor, got float32");
  return c.i64;
}

ir::Value* OnnxNode::param(size_t i) {
  std::shared_ptr<const Constant> c = constant(i);
  if (c->type != Constant::Type::f32)
    fail("input " + std::to_string(i) + " '" + input_name(i) + "': expected float32 data, got an integer tensor");
  auto made = conv_.params.find(c.get());
  if (made != conv_.params.end()) return made->second;
  std::shared_ptr<const ir::Tensor> data = c->f32;
  if (data->shape != c->shape) {  // a reshaped constant
    conv_.count_copy(data->data.size() * sizeof(float), where());
    data = std::make_shared<ir::Tensor>(c->shape, c->f32->data);
  }
  ir::Value* v = conv_.graph.add_param(conv_.take_name(input_name(i)), std::move(data));
  conv_.params.emplace(c.get(), v);
  return v;
}

ir::Value* OnnxNode::derived_param(size_t i, const std::string& how, const std::function<ir::Tensor()>& make) {
  std::shared_ptr<const Constant> c = constant(i);
  if (c->type != Constant::Type::f32)
    fail("input " + std::to_string(i) + " '" + input_name(i) + "': expected float32 data, got an integer tensor");
  auto made = conv_.derived.find({c.get(), how});
  if (made != conv_.derived.end()) return made->second;
  conv_.count_copy(static_cast<uint64_t>(c->numel()) * sizeof(float), where());
  ir::Value* v = conv_.graph.add_param(conv_.take_name(input_name(i)), make());
  conv_.derived.emplace(std::make_pair(c.get(), how), v);
  return v;
}

void OnnxNode::count_weight_bytes(const Constant& c) {
  if (c.type == Constant::Type::f32) conv_.weight_bytes += c.f32->data.size() * sizeof(float);
}

void OnnxNode::count_copy(uint64_t bytes) { conv_.count_copy(bytes, where()); }

// --- outputs ---------------------------------------------------------------------

ir::Value* OnnxNode::add_node(const std::string& op, std::vector<ir::Value*> inputs, ir::Attrs attrs) {
  return add_node_at(0, op, std::move(inputs), std::move(attrs));
}

ir::Value* OnnxNode::add_node_at(size_t output, const std::string& op, std::vector<ir::Value*> inputs,
                                 ir::Attrs attrs) {
  ir::Node* node = conv_.graph.add_node(conv_.take_name(name_), op, std::move(inputs), std::move(attrs));
  try {
    ir::infer_node_shape(*node, conv_.ops);
  } catch (const Error& e) {
    throw Error(conv_.files.file, std::string(e.what()) + " (from ONNX " + proto_.op_type() + ")");
  }
  conv_.values[proto_.output(static_cast<int>(output))] = Entry{node->output, nullptr};
  return node->output;
}

void OnnxNode::alias(size_t output, size_t input) {
  conv_.values[proto_.output(static_cast<int>(output))] = entry(input);
}

void OnnxNode::alias_zero_padded(size_t output, size_t input, std::vector<int64_t> pads) {
  Entry e = entry(input);
  e.zero_pads = std::move(pads);
  conv_.values[proto_.output(static_cast<int>(output))] = std::move(e);
}

void OnnxNode::set_constant(size_t output, Constant constant) {
  conv_.values[proto_.output(static_cast<int>(output))] =
      Entry{nullptr, std::make_shared<const Constant>(std::move(constant))};
}

// --- attributes ------------------------------------------------------------------

std::string list_str(const std::vector<int64_t>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

int attribute_type(const AttributeProto& a) {
  if (a.type() != AttributeProto::UNDEFINED) return a.type();
  if (a.has_f()) return AttributeProto::FLOAT;
  if (a.has_i()) return AttributeProto::INT;
  if (a.has_s()) return AttributeProto::STRING;
  if (a.has_t()) return AttributeProto::TENSOR;
  if (a.has_g()) return AttributeProto::GRAPH;
  if (a.floats_size()) return AttributeProto::FLOATS;
  if (a.ints_size()) return AttributeProto::INTS;
  if (a.strings_size()) return AttributeProto::STRINGS;
  return AttributeProto::UNDEFINED;
}

void OnnxNode::check_attrs(std::initializer_list<const char*> known) const {
  for (const AttributeProto& a : proto_.attribute()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return a.name() == k; })) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      fail("unknown attribute '" + a.name().substr(0, 60) + "' (known: " +
           (list.empty() ? "none" : list) + ")");
    }
  }
}

const AttributeProto* OnnxNode::attr(const std::string& name) const {
  for (const AttributeProto& a : proto_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

bool OnnxNode::has_attr(const std::string& name) const { return attr(name) != nullptr; }

int64_t OnnxNode::attr_int(const std::string& name, int64_t fallback) const {
  const AttributeProto* a = attr(name);
  if (!a) return fallback;
  if (attribute_type(*a) != AttributeProto::INT) fail("attribute '" + name + "': expected an integer");
  return a->i();
}

float OnnxNode::attr_float(const std::string& name, float fallback) const {
  const AttributeProto* a = attr(name);
  if (!a) return fallback;
  if (attribute_type(*a) != AttributeProto::FLOAT) fail("attribute '" + name + "': expected a float");
  return a->f();
}

std::vector<int64_t> OnnxNode::attr_ints(const std::string& name,
                                         const std::vector<int64_t>& fallback) const {
  const AttributeProto* a = attr(name);
  if (!a) return fallback;
  // An empty list is stored with no field set: accept UNDEFINED too.
  int type = attribute_type(*a);
  if (type != AttributeProto::INTS && type != AttributeProto::UNDEFINED)
    fail("attribute '" + name + "': expected a list of integers");
  if (a->ints_size() > 64) fail("attribute '" + name + "': " + std::to_string(a->ints_size()) + " integers, too many");
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::string OnnxNode::attr_string(const std::string& name, const std::string& fallback) const {
  const AttributeProto* a = attr(name);
  if (!a) return fallback;
  if (attribute_type(*a) != AttributeProto::STRING) fail("attribute '" + name + "': expected a string");
  return a->s();
}

}  // namespace kiln::loaders::from_onnx
