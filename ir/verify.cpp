#include "ir/verify.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "ir/error.h"

namespace kiln::ir {

static const OpSchema& schema_of(const Node& node, const OpTable& ops) {
  auto it = ops.find(node.op);
  if (it == ops.end()) throw Error(node.where(), "unknown op '" + node.op + "'");
  const OpSchema& schema = it->second;
  size_t n = node.inputs.size();
  if (n < schema.min_inputs || n > schema.max_inputs) {
    std::string expected = schema.min_inputs == schema.max_inputs
                               ? std::to_string(schema.min_inputs)
                               : std::to_string(schema.min_inputs) + " to " +
                                     std::to_string(schema.max_inputs);
    throw Error(node.where(), "expected " + expected + " inputs, got " + std::to_string(n));
  }
  return schema;
}

// Throws unless `shape`, the batch counted as 1, is within kMaxActivationElements.
// Checked on every output as it is inferred, so that every op's validate and
// infer_shape only ever see inputs within the limit and its arithmetic on
// them cannot overflow.
static void check_output_size(const Node& node, const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    int64_t dim = d == kBatch ? 1 : d;
    if (dim < 0)
      throw Error(node.where(), "output shape " + shape_str(shape) + " has a negative dimension");
    if (dim != 0 && n > kMaxActivationElements / dim)
      throw Error(node.where(), "output shape " + shape_str(shape) + " has more than " +
                                    std::to_string(kMaxActivationElements) +
                                    " elements per sample, the limit");
    n *= dim;
  }
}

void infer_node_shape(Node& node, const OpTable& ops) {
  const OpSchema& schema = schema_of(node, ops);
  schema.validate(node);
  Shape shape = schema.infer_shape(node);
  check_output_size(node, shape);
  node.output->shape = std::move(shape);
  node.output->dtype = DType::f32;
}

void infer_shapes(Graph& graph, const OpTable& ops) {
  for (const auto& node : graph.nodes()) infer_node_shape(*node, ops);
}

static size_t count(const std::vector<Node*>& list, const Node* node) {
  return static_cast<size_t>(std::count(list.begin(), list.end(), node));
}

void verify(const Graph& graph, const OpTable& ops) {
  const std::string where = "verify";
  std::unordered_set<const Value*> defined;
  std::set<std::string> names;
  auto define = [&](const Value* v, const std::string& kind) {
    if (!names.insert(v->name).second)
      throw Error(where, kind + " '" + v->name + "': name is used twice");
    defined.insert(v);
  };
  for (const Value* in : graph.inputs()) {
    if (in->producer) throw Error(where, "graph input '" + in->name + "' has a producer");
    define(in, "graph input");
  }
  for (const Value* p : graph.params()) {
    if (p->producer) throw Error(where, "parameter '" + p->name + "' has a producer");
    if (shape_numel(p->data->shape) != p->data->numel() || p->data->shape != p->shape)
      throw Error(where, "parameter '" + p->name + "': data does not match its shape " +
                             shape_str(p->shape));
    define(p, "parameter");
  }

  for (const auto& node : graph.nodes()) {
    const OpSchema& schema = schema_of(*node, ops);
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      const Value* in = node->inputs[i];
      if (!in) throw Error(node->where(), "input " + std::to_string(i) + " is null");
      if (!defined.count(in))
        throw Error(node->where(), "input " + std::to_string(i) + " '" + in->name +
                                       "' is used before it is defined");
      size_t uses = static_cast<size_t>(std::count(node->inputs.begin(), node->inputs.end(), in));
      if (count(in->users, node.get()) != uses)
        throw Error(node->where(), "value '" + in->name + "' does not list this node as a user " +
                                       std::to_string(uses) + " time(s)");
    }
    if (!node->output || node->output->producer != node.get())
      throw Error(node->where(), "its output does not name it as producer");
    if (node->output->name != node->name)
      throw Error(node->where(), "output value is named '" + node->output->name + "'");
    schema.validate(*node);
    Shape inferred = schema.infer_shape(*node);
    check_output_size(*node, inferred);
    if (inferred != node->output->shape)
      throw Error(node->where(), "output shape " + shape_str(node->output->shape) +
                                     " differs from the inferred " + shape_str(inferred));
    define(node->output, "node");
  }

  // Every user listed must really use the value.
  auto check_users = [&](const Value* v) {
    for (const Node* user : v->users) {
      if (std::find(user->inputs.begin(), user->inputs.end(), v) == user->inputs.end())
        throw Error(where, "value '" + v->name + "' lists '" + user->name +
                               "' as a user, but that node does not use it");
    }
  };
  for (const Value* v : graph.inputs()) check_users(v);
  for (const Value* v : graph.params()) check_users(v);
  for (const auto& node : graph.nodes()) check_users(node->output);

  if (graph.outputs().empty()) throw Error(where, "the graph has no outputs");
  for (const Value* out : graph.outputs()) {
    if (!defined.count(out)) throw Error(where, "graph output '" + out->name + "' is not defined");
  }
}

}  // namespace kiln::ir
