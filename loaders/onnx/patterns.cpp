// find_gelus: walks back from each Erf to its Div and forward to the two Muls.
#include "loaders/onnx/patterns.h"

#include <cmath>
#include <cstring>

namespace kiln::loaders::from_onnx {

namespace {

struct Finder {
  const ::onnx::GraphProto& g;
  const std::unordered_map<std::string, size_t>& producer;
  const std::unordered_map<std::string, size_t>& readers;
  const ScalarLookup& scalar;
  std::unordered_map<std::string, std::vector<size_t>> reader_nodes;

  bool is_scalar(const std::string& name, double want) const {
    std::optional<float> v = scalar(name);
    return v && std::fabs(*v - want) <= 1e-6 * want;
  }
  bool single_reader(const std::string& value) const {
    auto r = readers.find(value);
    return r != readers.end() && r->second == 1;
  }
  // The one node reading `value`, if it has op `op` and exactly two inputs.
  const ::onnx::NodeProto* next(const std::string& value, const char* op, size_t* index) const {
    if (!single_reader(value)) return nullptr;
    auto r = reader_nodes.find(value);
    if (r == reader_nodes.end() || r->second.size() != 1) return nullptr;
    const ::onnx::NodeProto& n = g.node(static_cast<int>(r->second[0]));
    if (n.op_type() != op || n.input_size() != 2 || n.output_size() != 1 || !n.domain().empty()) return nullptr;
    *index = r->second[0];
    return &n;
  }
  // The input of a two-input node other than `value`.
  static const std::string& other(const ::onnx::NodeProto& n, const std::string& value) {
    return n.input(0) == value ? n.input(1) : n.input(0);
  }

  std::optional<GeluMatch> match(size_t erf_index) const {
    const ::onnx::NodeProto& erf = g.node(static_cast<int>(erf_index));
    if (erf.input_size() != 1 || erf.output_size() != 1) return std::nullopt;
    auto p = producer.find(erf.input(0));
    if (p == producer.end() || !single_reader(erf.input(0))) return std::nullopt;
    const ::onnx::NodeProto& div = g.node(static_cast<int>(p->second));
    if (div.op_type() != "Div" || div.input_size() != 2 || !is_scalar(div.input(1), std::sqrt(2.0)))
      return std::nullopt;
    GeluMatch m;
    m.x = div.input(0);
    size_t add_i = 0, mul_i = 0, last_i = 0;
    const ::onnx::NodeProto* add = next(erf.output(0), "Add", &add_i);
    if (!add || !is_scalar(other(*add, erf.output(0)), 1.0)) return std::nullopt;
    const ::onnx::NodeProto* mul = next(add->output(0), "Mul", &mul_i);
    if (!mul || other(*mul, add->output(0)) != m.x) return std::nullopt;
    const ::onnx::NodeProto* last = next(mul->output(0), "Mul", &last_i);
    if (!last || !is_scalar(other(*last, mul->output(0)), 0.5)) return std::nullopt;
    m.last = last_i;
    m.inner = {p->second, erf_index, add_i, mul_i};
    return m;
  }
};

}  // namespace

std::optional<float> constant_node_scalar(const ::onnx::NodeProto& node) {
  if (node.op_type() != "Constant" || node.attribute_size() != 1) return std::nullopt;
  const ::onnx::AttributeProto& a = node.attribute(0);
  if (a.name() == "value_float") return a.f();
  if (a.name() != "value" || !a.has_t()) return std::nullopt;
  const ::onnx::TensorProto& t = a.t();
  if (t.data_type() != ::onnx::TensorProto::FLOAT) return std::nullopt;
  for (int64_t d : t.dims()) {
    if (d != 1) return std::nullopt;
  }
  if (t.raw_data().size() == 4) {
    float v;
    std::memcpy(&v, t.raw_data().data(), 4);
    return v;
  }
  if (t.float_data_size() == 1 && t.raw_data().empty()) return t.float_data(0);
  return std::nullopt;
}

std::vector<GeluMatch> find_gelus(const ::onnx::GraphProto& graph,
                                  const std::unordered_map<std::string, size_t>& producer,
                                  const std::unordered_map<std::string, size_t>& readers,
                                  const ScalarLookup& scalar) {
  Finder f{graph, producer, readers, scalar, {}};
  std::vector<size_t> erfs;
  for (int i = 0; i < graph.node_size(); ++i) {
    const ::onnx::NodeProto& n = graph.node(i);
    for (const std::string& in : n.input()) f.reader_nodes[in].push_back(static_cast<size_t>(i));
    if (n.op_type() == "Erf" && n.domain().empty()) erfs.push_back(static_cast<size_t>(i));
  }
  std::vector<GeluMatch> found;
  for (size_t e : erfs) {
    if (std::optional<GeluMatch> m = f.match(e)) found.push_back(*m);
  }
  return found;
}

}  // namespace kiln::loaders::from_onnx
