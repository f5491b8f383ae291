// find_gelus: walks back from each Erf to its Div and forward to the two Muls.
// find_layer_norms: walks back from each Sqrt to the first ReduceMean and
// forward to the Div and the affine Mul and Add.
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
  // The node computing `value`, if it has op `op`, `inputs` inputs and one output.
  const ::onnx::NodeProto* producer_of(const std::string& value, const char* op, int inputs,
                                       size_t* index) const {
    auto p = producer.find(value);
    if (p == producer.end()) return nullptr;
    const ::onnx::NodeProto& n = g.node(static_cast<int>(p->second));
    if (n.op_type() != op || n.input_size() != inputs || n.output_size() != 1 || !n.domain().empty())
      return nullptr;
    *index = p->second;
    return &n;
  }
  // Indexes every node's readers, then tries `matcher.match(i)` from each
  // node i of op `anchor` (in the default domain), in graph order.
  template <class Match, class Matcher>
  std::vector<Match> find_from(const char* anchor, const Matcher& matcher) {
    std::vector<size_t> anchors;
    for (int i = 0; i < g.node_size(); ++i) {
      const ::onnx::NodeProto& n = g.node(i);
      for (const std::string& in : n.input()) reader_nodes[in].push_back(static_cast<size_t>(i));
      if (n.op_type() == anchor && n.domain().empty()) anchors.push_back(static_cast<size_t>(i));
    }
    std::vector<Match> found;
    for (size_t a : anchors) {
      if (std::optional<Match> m = matcher.match(a)) found.push_back(*m);
    }
    return found;
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

// A ReduceMean over the last dims, keepdims 1 (axes an attribute, as up to
// opset 17): the first of them counted from the end (-k), or 0 if it is not one.
int64_t trailing_mean_axis(const ::onnx::NodeProto& mean) {
  std::vector<int64_t> axes;
  int64_t keepdims = 1;
  for (const ::onnx::AttributeProto& a : mean.attribute()) {
    if (a.name() == "axes")
      axes.assign(a.ints().begin(), a.ints().end());
    else if (a.name() == "keepdims")
      keepdims = a.i();
    else
      return 0;
  }
  if (keepdims != 1 || axes.empty()) return 0;
  const int64_t k = static_cast<int64_t>(axes.size());
  for (int64_t i = 0; i < k; ++i) {
    if (axes[static_cast<size_t>(i)] != i - k) return 0;
  }
  return -k;
}

struct LayerNormFinder : Finder {
  const std::function<bool(const std::string&)>& is_constant;

  // The reader of `value` other than `not_this` when it has exactly two.
  std::optional<size_t> other_reader(const std::string& value, size_t not_this) const {
    auto r = reader_nodes.find(value);
    auto count = readers.find(value);
    if (r == reader_nodes.end() || r->second.size() != 2 || count == readers.end() ||
        count->second != 2)
      return std::nullopt;
    return r->second[0] == not_this ? r->second[1] : r->second[0];
  }

  std::optional<LayerNormMatch> match(size_t sqrt_index) const {
    const ::onnx::NodeProto& sqrt = g.node(static_cast<int>(sqrt_index));
    if (sqrt.input_size() != 1 || sqrt.output_size() != 1 || !single_reader(sqrt.input(0)))
      return std::nullopt;
    size_t add_i = 0, var_i = 0, pow_i = 0, sub_i = 0, mean_i = 0, div_i = 0;
    const ::onnx::NodeProto* add = producer_of(sqrt.input(0), "Add", 2, &add_i);
    if (!add) return std::nullopt;
    const bool var_first = producer.count(add->input(0)) &&
                           g.node(static_cast<int>(producer.at(add->input(0)))).op_type() == "ReduceMean";
    const std::string& var_name = add->input(var_first ? 0 : 1);
    std::optional<float> eps = scalar(add->input(var_first ? 1 : 0));
    if (!eps || !(*eps >= 0) || !single_reader(var_name)) return std::nullopt;
    const ::onnx::NodeProto* var = producer_of(var_name, "ReduceMean", 1, &var_i);
    if (!var || !single_reader(var->input(0))) return std::nullopt;
    const ::onnx::NodeProto* pow = producer_of(var->input(0), "Pow", 2, &pow_i);
    if (!pow || !is_scalar(pow->input(1), 2.0)) return std::nullopt;
    const ::onnx::NodeProto* sub = producer_of(pow->input(0), "Sub", 2, &sub_i);
    if (!sub || !single_reader(sub->input(1))) return std::nullopt;
    const ::onnx::NodeProto* mean = producer_of(sub->input(1), "ReduceMean", 1, &mean_i);
    if (!mean || mean->input(0) != sub->input(0)) return std::nullopt;
    const int64_t axis = trailing_mean_axis(*mean);
    if (axis == 0 || trailing_mean_axis(*var) != axis) return std::nullopt;

    // d = Sub's output: read by the Pow and by the Div, d / s.
    std::optional<size_t> div_at = other_reader(sub->output(0), pow_i);
    if (!div_at) return std::nullopt;
    div_i = *div_at;
    const ::onnx::NodeProto& div = g.node(static_cast<int>(div_i));
    if (div.op_type() != "Div" || div.input_size() != 2 || div.output_size() != 1 ||
        div.input(0) != sub->output(0) || div.input(1) != sqrt.output(0))
      return std::nullopt;

    LayerNormMatch m;
    m.x = sub->input(0);
    m.axis = axis;
    m.eps = *eps;
    m.inner = {mean_i, sub_i, pow_i, var_i, add_i, sqrt_index};
    m.last = div_i;
    // The affine part, where its operands are constants.
    size_t mul_i = 0, bias_i = 0;
    const ::onnx::NodeProto* mul = next(div.output(0), "Mul", &mul_i);
    if (mul && is_constant(other(*mul, div.output(0)))) {
      m.weight = other(*mul, div.output(0));
      m.inner.push_back(m.last);
      m.last = mul_i;
      const ::onnx::NodeProto* bias = next(mul->output(0), "Add", &bias_i);
      if (bias && is_constant(other(*bias, mul->output(0)))) {
        m.bias = other(*bias, mul->output(0));
        m.inner.push_back(m.last);
        m.last = bias_i;
      }
    }
    return m;
  }
};

}  // namespace

std::vector<LayerNormMatch> find_layer_norms(
    const ::onnx::GraphProto& graph, const std::unordered_map<std::string, size_t>& producer,
    const std::unordered_map<std::string, size_t>& readers, const ScalarLookup& scalar,
    const std::function<bool(const std::string&)>& is_constant) {
  LayerNormFinder f{{graph, producer, readers, scalar, {}}, is_constant};
  return f.find_from<LayerNormMatch>("Sqrt", f);
}

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
  return f.find_from<GeluMatch>("Erf", f);
}

}  // namespace kiln::loaders::from_onnx
