// convert_graph: an ONNX GraphProto -> ir::Graph, in stages: limits;
// initializers (constants); graph inputs (the free batch); which node
// produces each value, undefined inputs; topological order, cycles; each
// node through its handler; outputs. Nodes Kiln cannot run are collected
// and reported together at the end.
#include <algorithm>
#include <map>
#include <queue>

#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/npy.h"
#include "loaders/onnx/convert.h"
#include "loaders/onnx/handlers.h"
#include "loaders/onnx/onnx.h"
#include "loaders/onnx/patterns.h"

namespace kiln::loaders::from_onnx {

namespace {

using ::onnx::GraphProto;
using ::onnx::NodeProto;

// A node Kiln cannot run, for the final report.
struct Refusal {
  std::string node, op, domain, reason;
  int64_t opset = 0;
};

std::string node_label(const NodeProto& node) {
  const std::string& name = !node.name().empty() ? node.name() : node.output_size() ? node.output(0) : "";
  return "node '" + name + "' (" + node.op_type() + ")";
}

// One line listing every refused node, grouped by op (and reason).
std::string refusal_report(const std::vector<Refusal>& refusals) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // in order of first appearance
  std::map<std::string, size_t> index;
  for (const Refusal& r : refusals) {
    std::string key = r.op + " (" + (r.domain.empty() ? "" : "domain '" + r.domain + "' ") + "opset " +
                      std::to_string(r.opset) + ")" + (r.reason.empty() ? "" : ": " + r.reason);
    auto it = index.emplace(key, groups.size()).first;
    if (it->second == groups.size()) groups.push_back({key, {}});
    groups[it->second].second.push_back("'" + r.node + "'");
  }
  std::string text = std::to_string(refusals.size()) + " node" + (refusals.size() == 1 ? "" : "s") +
                     " Kiln cannot run (yet; see docs/ONNX.md): ";
  for (size_t g = 0; g < groups.size(); ++g) {
    text += (g ? "; " : "") + groups[g].first + " at ";
    for (size_t i = 0; i < groups[g].second.size(); ++i) text += (i ? ", " : "") + groups[g].second[i];
  }
  return text;
}

class GraphConverter {
 public:
  GraphConverter(GraphProto& graph, const Opsets& opsets, const ir::OpTable& ops, const TensorFiles& files)
      : g_(graph), opsets_(opsets), conv_(ops, files), file_(files.file) {}

  ir::Graph run() {
    check_limits();
    read_initializers();
    read_inputs();
    find_producers();
    find_patterns();
    for (size_t i : topological_order()) {
      if (skipped_.count(i)) continue;
      auto special = special_.find(i);
      convert_node(g_.node(static_cast<int>(i)), special == special_.end() ? nullptr : special->second);
    }
    read_outputs();
    if (!refusals_.empty()) throw Error(file_, refusal_report(refusals_));
    return std::move(conv_.graph);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(file_, what); }

  void check_limits() const {
    if (static_cast<size_t>(g_.node_size()) > kMaxOnnxNodes)
      fail("the graph has " + std::to_string(g_.node_size()) + " nodes, more than the limit of " +
           std::to_string(kMaxOnnxNodes));
    if (static_cast<size_t>(g_.initializer_size()) > kMaxOnnxInitializers)
      fail("the graph has " + std::to_string(g_.initializer_size()) + " initializers, more than the limit of " +
           std::to_string(kMaxOnnxInitializers));
    if (g_.sparse_initializer_size() > 0) fail("sparse initializers are not supported");
    if (g_.node_size() == 0) fail("the graph has no nodes");
    if (g_.output_size() == 0) fail("the graph has no outputs");
  }

  void read_initializers() {
    for (::onnx::TensorProto& t : *g_.mutable_initializer()) {
      const std::string where = file_ + ": initializer '" + t.name() + "'";
      if (t.name().empty()) fail("an initializer has no name");
      if (conv_.values.count(t.name())) throw Error(where, "the name is used twice");
      std::shared_ptr<const Constant> c = read_tensor(t, where, conv_.files);
      if (c->type == Constant::Type::f32) conv_.weight_bytes += c->f32->data.size() * sizeof(float);
      conv_.values[t.name()] = Entry{nullptr, std::move(c)};
      t.clear_raw_data();  // read: the bytes now live in the constant
    }
  }

  // A graph input's shape: float32, fixed sizes, the first dim may be
  // symbolic (the free batch) or fixed.
  void read_inputs() {
    for (const ::onnx::ValueInfoProto& in : g_.input()) {
      if (conv_.values.count(in.name())) {
        if (conv_.values[in.name()].constant) continue;  // an initializer listed as an input
        fail("graph input '" + in.name() + "' is listed twice");
      }
      const std::string where = file_ + ": graph input '" + in.name() + "'";
      if (in.name().empty()) fail("a graph input has no name");
      if (!in.type().has_tensor_type()) throw Error(where, "expected a tensor");
      const ::onnx::TypeProto::Tensor& type = in.type().tensor_type();
      if (type.elem_type() != ::onnx::TensorProto::FLOAT)
        throw Error(where, "element type " + onnx_type_name(type.elem_type()) +
                               " is not supported (Kiln's inputs are float32)");
      if (!type.has_shape()) throw Error(where, "has no shape (Kiln needs its rank and sizes)");
      const int rank = type.shape().dim_size();
      if (rank < 1 || static_cast<size_t>(rank) > kNpyMaxRank)
        throw Error(where, "rank " + std::to_string(rank) + ": expected 1 to " + std::to_string(kNpyMaxRank));
      ir::Shape shape;
      int64_t numel = 1;
      for (int d = 0; d < rank; ++d) {
        const auto& dim = type.shape().dim(d);
        if (d == 0 && !dim.has_dim_value()) {
          shape.push_back(ir::kBatch);
          continue;
        }
        if (!dim.has_dim_value())
          throw Error(where, "dimension " + std::to_string(d) + " is symbolic ('" + dim.dim_param().substr(0, 40) +
                                 "'): Kiln needs fixed sizes beyond the batch");
        const int64_t size = dim.dim_value();
        if (size < 1 || size > kNpyMaxElements / numel)
          throw Error(where, "dimension " + std::to_string(d) + " is " + std::to_string(size) +
                                 ": expected a positive size, with at most " + std::to_string(kNpyMaxElements) +
                                 " elements in all");
        numel *= size;
        shape.push_back(size);
      }
      conv_.values[in.name()] = Entry{conv_.graph.add_input(conv_.take_name(in.name()), shape), nullptr};
    }
  }

  // producer_[value] = the index of the node computing it; then every input
  // of every node must be an initializer, a graph input or a node's output.
  void find_producers() {
    for (int i = 0; i < g_.node_size(); ++i) {
      for (const std::string& out : g_.node(i).output()) {
        if (out.empty()) continue;  // an optional output left out
        if (conv_.values.count(out))
          fail(node_label(g_.node(i)) + ": output '" + out + "' is also a graph input or an initializer");
        if (!producer_.emplace(out, static_cast<size_t>(i)).second)
          fail(node_label(g_.node(i)) + ": output '" + out + "' is also computed by " +
               node_label(g_.node(static_cast<int>(producer_[out]))));
      }
    }
    for (const ::onnx::ValueInfoProto& out : g_.output()) ++read_[out.name()];
    for (const NodeProto& node : g_.node()) {
      for (const std::string& in : node.input()) {
        ++read_[in];
        if (!in.empty() && !conv_.values.count(in) && !producer_.count(in))
          fail(node_label(node) + ": input '" + in + "' is not defined (no graph input, initializer or "
               "node output has that name)");
      }
    }
  }

  // Multi-node patterns (patterns.h): the last node of each is converted by
  // its own handler from the pattern's input, the others are skipped.
  void find_patterns() {
    ScalarLookup scalar = [this](const std::string& name) -> std::optional<float> {
      auto v = conv_.values.find(name);
      if (v != conv_.values.end()) {
        const Entry& e = v->second;
        if (e.constant && e.constant->type == Constant::Type::f32 && e.constant->numel() == 1)
          return e.constant->f32->data[0];
        return std::nullopt;
      }
      auto p = producer_.find(name);
      if (p == producer_.end()) return std::nullopt;
      return constant_node_scalar(g_.node(static_cast<int>(p->second)));
    };
    for (const GeluMatch& m : find_gelus(g_, producer_, read_, scalar)) {
      NodeProto& last = *g_.mutable_node(static_cast<int>(m.last));
      last.clear_input();
      last.add_input(m.x);
      special_[m.last] = convert_gelu;
      skipped_.insert(m.inner.begin(), m.inner.end());
    }
    auto is_constant = [this](const std::string& name) {
      auto v = conv_.values.find(name);
      if (v != conv_.values.end()) return v->second.constant != nullptr;
      auto p = producer_.find(name);
      return p != producer_.end() && g_.node(static_cast<int>(p->second)).op_type() == "Constant";
    };
    // The last node becomes a LayerNormalization of x, for its handler.
    for (const LayerNormMatch& m : find_layer_norms(g_, producer_, read_, scalar, is_constant)) {
      NodeProto& last = *g_.mutable_node(static_cast<int>(m.last));
      last.clear_input();
      last.add_input(m.x);
      if (!m.weight.empty()) last.add_input(m.weight);
      if (!m.bias.empty()) last.add_input(m.bias);
      last.clear_attribute();
      ::onnx::AttributeProto* axis = last.add_attribute();
      axis->set_name("axis");
      axis->set_type(::onnx::AttributeProto::INT);
      axis->set_i(m.axis);
      ::onnx::AttributeProto* eps = last.add_attribute();
      eps->set_name("epsilon");
      eps->set_type(::onnx::AttributeProto::FLOAT);
      eps->set_f(m.eps);
      special_[m.last] = convert_layer_normalization;
      skipped_.insert(m.inner.begin(), m.inner.end());
    }
  }

  // Kahn's algorithm, taking the lowest index first so that a sorted graph
  // keeps its order. Nodes left over are on a cycle or after one.
  std::vector<size_t> topological_order() const {
    const size_t n = static_cast<size_t>(g_.node_size());
    std::vector<std::vector<size_t>> readers(n);
    std::vector<size_t> waiting(n, 0);
    for (size_t i = 0; i < n; ++i) {
      for (const std::string& in : g_.node(static_cast<int>(i)).input()) {
        auto p = producer_.find(in);
        if (p == producer_.end()) continue;
        readers[p->second].push_back(i);
        ++waiting[i];
      }
    }
    std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
    for (size_t i = 0; i < n; ++i) {
      if (waiting[i] == 0) ready.push(i);
    }
    std::vector<size_t> order;
    while (!ready.empty()) {
      size_t i = ready.top();
      ready.pop();
      order.push_back(i);
      for (size_t r : readers[i]) {
        if (--waiting[r] == 0) ready.push(r);
      }
    }
    if (order.size() != n) fail(describe_cycle(waiting));
    return order;
  }

  // From a node left unsorted, walk back through unsorted producers until a
  // node repeats: that stretch is a cycle.
  std::string describe_cycle(const std::vector<size_t>& waiting) const {
    size_t at = 0;
    while (waiting[at] == 0) ++at;
    std::vector<size_t> path;
    std::vector<bool> seen(waiting.size(), false);
    while (!seen[at]) {
      seen[at] = true;
      path.push_back(at);
      for (const std::string& in : g_.node(static_cast<int>(at)).input()) {
        auto p = producer_.find(in);
        if (p != producer_.end() && waiting[p->second] != 0) {
          at = p->second;
          break;
        }
      }
    }
    std::vector<size_t> cycle(std::find(path.begin(), path.end(), at), path.end());
    std::reverse(cycle.begin(), cycle.end());  // in the direction data flows
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text = "the graph has a cycle: ";
    for (size_t k = 0; k < cycle.size() && k < 8; ++k) text += node_label(g_.node(static_cast<int>(cycle[k]))) + " -> ";
    return text + (cycle.size() > 8 ? "... -> " : "") + node_label(g_.node(static_cast<int>(cycle[0])));
  }

  // Marks the node's outputs unknown (see Entry).
  void unknown_outputs(const NodeProto& node, bool runtime) {
    for (const std::string& out : node.output()) {
      if (!out.empty()) conv_.values[out] = Entry{nullptr, nullptr, runtime};
    }
  }

  void refuse(const NodeProto& node, int64_t opset, const std::string& reason) {
    const std::string& name = !node.name().empty() ? node.name() : node.output_size() ? node.output(0) : "";
    refusals_.push_back({name, node.op_type(), node.domain(), reason, opset});
    unknown_outputs(node, /*runtime=*/true);
  }

  // A node skipped for an unknown input computes at run time unless it is a
  // Shape, or all it reads are constants (known or not): shape arithmetic.
  bool computed_at_run_time(const NodeProto& node) const {
    if (node.op_type() == "Shape") return false;
    for (const std::string& in : node.input()) {
      if (in.empty()) continue;
      const Entry& e = conv_.values.at(in);
      if (e.value || (!e.known() && e.runtime)) return true;
    }
    return false;
  }

  void convert_node(const NodeProto& node, Handler special) {
    const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    auto opset = opsets_.find(standard ? "" : node.domain());
    if (opset == opsets_.end())
      fail(node_label(node) + ": domain '" + node.domain() + "' is not in the model's opset_import");
    Handler handler = special ? special : standard ? find_handler(node.op_type()) : nullptr;
    if (!handler) return refuse(node, opset->second, "");
    if (node.output_size() == 0 || node.output(0).empty()) fail(node_label(node) + ": output 0 is missing");
    OnnxNode view(conv_, node, opset->second);
    try {
      handler(view);
    } catch (const Unsupported& u) {
      return refuse(node, opset->second, u.reason);
    } catch (const UnknownInput&) {
      return unknown_outputs(node, computed_at_run_time(node));
    }
    // Outputs the handler left undefined (MaxPool's Indices, Dropout's mask,
    // BatchNormalization's training statistics) must not be read.
    for (int k = 1; k < node.output_size(); ++k) {
      const std::string& out = node.output(k);
      if (!out.empty() && !conv_.values.count(out) && read_.count(out))
        return refuse(node, opset->second, "output " + std::to_string(k) + " is used (Kiln computes output 0 only)");
    }
  }

  void read_outputs() {
    std::vector<ir::Value*> outputs;
    for (const ::onnx::ValueInfoProto& out : g_.output()) {
      auto e = conv_.values.find(out.name());
      if (e == conv_.values.end()) fail("graph output '" + out.name() + "' is not defined");
      if (!e->second.known()) continue;  // after a refused node: reported
      if (!e->second.value) fail("graph output '" + out.name() + "' is a constant (Kiln computes its outputs)");
      if (!e->second.zero_pads.empty())
        fail("graph output '" + out.name() + "' is a Pad's output (Kiln pads inside Conv and "
             "AveragePool only)");
      if (std::find(outputs.begin(), outputs.end(), e->second.value) != outputs.end())
        fail("graph output '" + out.name() + "' is the same value as an earlier output");
      outputs.push_back(e->second.value);
    }
    conv_.graph.set_outputs(outputs);
  }

  GraphProto& g_;
  const Opsets& opsets_;
  Conversion conv_;
  std::string file_;
  std::unordered_map<std::string, size_t> producer_;
  std::unordered_map<std::string, size_t> read_;  // how many nodes (and graph outputs) read each value
  std::unordered_map<size_t, Handler> special_;   // node index -> the handler of the pattern it ends
  std::unordered_set<size_t> skipped_;            // nodes inside a pattern
  std::vector<Refusal> refusals_;
};

}  // namespace

ir::Graph convert_graph(GraphProto& graph, const Opsets& opsets, const ir::OpTable& ops, const TensorFiles& files) {
  return GraphConverter(graph, opsets, ops, files).run();
}

}  // namespace kiln::loaders::from_onnx
