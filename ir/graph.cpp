#include "ir/graph.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "ir/error.h"

namespace kiln::ir {

std::string Value::user_names(const Node* except) const {
  std::string s;
  for (const Node* user : users) {
    if (user != except) s += (s.empty() ? "" : ", ") + user->name;
  }
  return s;
}

std::string Node::where() const { return "node '" + name + "' (" + op + ")"; }

Graph Graph::clone() const {
  Graph copy;
  std::unordered_map<const Value*, Value*> map;
  for (const auto& v : values_) {
    if (v->producer) continue;  // node outputs are made with their nodes below
    auto c = std::make_unique<Value>();
    c->name = v->name;
    c->dtype = v->dtype;
    c->shape = v->shape;
    c->data = v->data;
    map[v.get()] = c.get();
    copy.values_.push_back(std::move(c));
  }
  for (Value* v : inputs_) copy.inputs_.push_back(map.at(v));
  for (const auto& n : nodes_) {
    std::vector<Value*> ins;
    for (Value* v : n->inputs) ins.push_back(map.at(v));
    Node* c = copy.add_node(n->name, n->op, ins, n->attrs);
    c->output->shape = n->output->shape;
    c->output->dtype = n->output->dtype;
    map[n->output] = c->output;
  }
  for (Value* v : outputs_) copy.outputs_.push_back(map.at(v));
  return copy;
}

Value* Graph::add_input(const std::string& name, Shape shape, DType dtype) {
  auto v = std::make_unique<Value>();
  v->name = name;
  v->shape = std::move(shape);
  v->dtype = dtype;
  inputs_.push_back(v.get());
  values_.push_back(std::move(v));
  return inputs_.back();
}

Value* Graph::add_param(const std::string& name, Tensor tensor) {
  return add_param(name, std::make_shared<const Tensor>(std::move(tensor)));
}

Value* Graph::add_param(const std::string& name, std::shared_ptr<const Tensor> tensor) {
  auto v = std::make_unique<Value>();
  v->name = name;
  v->dtype = tensor->dtype;
  v->shape = tensor->shape;
  v->data = std::move(tensor);
  values_.push_back(std::move(v));
  return values_.back().get();
}

Node* Graph::add_node(const std::string& name, const std::string& op, std::vector<Value*> inputs,
                      Attrs attrs) {
  auto n = std::make_unique<Node>();
  n->name = name;
  n->op = op;
  n->inputs = std::move(inputs);
  n->attrs = std::move(attrs);
  auto out = std::make_unique<Value>();
  out->name = name;
  out->producer = n.get();
  n->output = out.get();
  for (Value* in : n->inputs) in->users.push_back(n.get());
  values_.push_back(std::move(out));
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

void Graph::set_outputs(std::vector<Value*> outputs) { outputs_ = std::move(outputs); }

// Removes one occurrence of `node` from `value`'s users.
static void drop_user(Value* value, Node* node) {
  auto it = std::find(value->users.begin(), value->users.end(), node);
  if (it != value->users.end()) value->users.erase(it);
}

void Graph::replace_all_uses(Value* from, Value* to) {
  if (from == to) return;
  for (Node* user : from->users) {
    for (Value*& in : user->inputs) {
      if (in == from) in = to;
    }
  }
  // Each entry in from->users stands for one use, so they move over one to one.
  to->users.insert(to->users.end(), from->users.begin(), from->users.end());
  from->users.clear();
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
}

void Graph::set_input(Node* node, size_t index, Value* value) {
  if (index >= node->inputs.size())
    throw Error(node->where(), "set_input: no input " + std::to_string(index));
  drop_user(node->inputs[index], node);
  node->inputs[index] = value;
  value->users.push_back(node);
}

void Graph::add_input_to(Node* node, Value* value) {
  node->inputs.push_back(value);
  value->users.push_back(node);
}

void Graph::set_inputs(Node* node, std::vector<Value*> inputs) {
  for (Value* in : node->inputs) drop_user(in, node);
  node->inputs = std::move(inputs);
  for (Value* in : node->inputs) in->users.push_back(node);
}

void Graph::erase_node(Node* node) {
  if (!node->output->users.empty())
    throw Error(node->where(), "cannot erase: its output still has " +
                                   std::to_string(node->output->users.size()) + " user(s)");
  if (is_output(node->output))
    throw Error(node->where(), "cannot erase: its output is a graph output");
  for (Value* in : node->inputs) drop_user(in, node);
  Value* out = node->output;
  values_.erase(std::find_if(values_.begin(), values_.end(),
                             [&](const auto& v) { return v.get() == out; }));
  nodes_.erase(std::find_if(nodes_.begin(), nodes_.end(),
                            [&](const auto& n) { return n.get() == node; }));
}

void Graph::erase_unused_params() {
  values_.erase(std::remove_if(values_.begin(), values_.end(),
                               [](const auto& v) { return v->is_param() && v->users.empty(); }),
                values_.end());
}

Value* Graph::find_value(const std::string& name) const {
  for (const auto& v : values_) {
    if (v->name == name) return v.get();
  }
  return nullptr;
}

Node* Graph::find_node(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (n->name == name) return n.get();
  }
  return nullptr;
}

std::string Graph::unique_name(const std::string& base) const {
  if (!find_value(base)) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!find_value(name)) return name;
  }
}

std::vector<Value*> Graph::params() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (v->is_param()) out.push_back(v.get());
  }
  return out;
}

bool Graph::is_output(const Value* value) const {
  return std::find(outputs_.begin(), outputs_.end(), value) != outputs_.end();
}

std::vector<Node*> Graph::nodes_of_op(const std::string& op) const {
  std::vector<Node*> out;
  for (const auto& node : nodes_) {
    if (node->op == op) out.push_back(node.get());
  }
  return out;
}

size_t Graph::count_op(const std::string& op) const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node->op == op;
  return n;
}

std::string attr_str(const Attr& attr) {
  if (auto i = std::get_if<int64_t>(&attr)) return std::to_string(*i);
  if (auto d = std::get_if<double>(&attr)) {
    std::ostringstream s;
    s << *d;
    return s.str();
  }
  if (auto s = std::get_if<std::string>(&attr)) return "\"" + *s + "\"";
  const auto& list = std::get<std::vector<int64_t>>(attr);
  std::string s = "[";
  for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + std::to_string(list[i]);
  return s + "]";
}

static std::string operand(const Value* v) { return (v->is_param() ? "$" : "%") + v->name; }

std::string print(const Graph& graph) {
  std::ostringstream s;
  for (const Value* in : graph.inputs())
    s << "input %" << in->name << " : " << shape_str(in->shape) << "\n";
  for (const auto& n : graph.nodes()) {
    s << "%" << n->name << " = " << n->op << "(";
    for (size_t i = 0; i < n->inputs.size(); ++i) s << (i ? ", " : "") << operand(n->inputs[i]);
    s << ")";
    if (!n->attrs.empty()) {
      s << " {";
      bool first = true;
      for (const auto& [key, value] : n->attrs) {
        s << (first ? "" : ", ") << key << "=" << attr_str(value);
        first = false;
      }
      s << "}";
    }
    s << " : " << shape_str(n->output->shape) << "\n";
  }
  s << "return";
  for (size_t i = 0; i < graph.outputs().size(); ++i)
    s << (i ? ", %" : " %") << graph.outputs()[i]->name;
  s << "\n";
  return s.str();
}

}  // namespace kiln::ir
