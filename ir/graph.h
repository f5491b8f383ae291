// The IR: a Graph owns Values and Nodes.
//
// A Value is a tensor that flows through the graph: a graph input, a
// parameter (constant data, e.g. a conv weight), or the single output of a
// Node. A Value knows its producer and its users; a Node knows its inputs and
// its output. Nodes are kept in topological order. Both are owned through
// unique_ptr, so raw pointers are stable handles for the graph's lifetime.
//
// Rewrites go through the Graph, which keeps user lists right:
// replace_all_uses() moves every use of a value, set_input() and
// add_input_to() change one node's inputs, erase_node() refuses a node whose
// output is still used. verify() (ir/verify.h) checks all of this.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "ir/tensor.h"

namespace kiln::ir {

struct Node;

struct Value {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;                          // set by infer_shapes(); may hold kBatch in dim 0
  Node* producer = nullptr;             // null for graph inputs and parameters
  std::vector<Node*> users;             // one entry per use: a node using it twice is listed twice
  std::shared_ptr<const Tensor> data;   // set for parameters only

  bool is_param() const { return data != nullptr; }
  // "bn1, relu1": the users' names in order, leaving out `except`; for messages.
  std::string user_names(const Node* except = nullptr) const;
};

// An attribute is an integer, a real, a list of integers or a string.
using Attr = std::variant<int64_t, double, std::vector<int64_t>, std::string>;
using Attrs = std::map<std::string, Attr>;

struct Node {
  std::string name;             // PyTorch's qualified name, e.g. "layer1.0.conv1"
  std::string op;               // "conv2d", "batchnorm", ...
  std::vector<Value*> inputs;   // in the op's order, usually activations then parameters
  Value* output = nullptr;      // named like the node
  Attrs attrs;

  // "node 'layer1.0.conv1' (conv2d)", the prefix of every error about this node.
  std::string where() const;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  // A deep copy (parameter data is shared: it is immutable).
  Graph clone() const;

  Value* add_input(const std::string& name, Shape shape, DType dtype = DType::f32);
  Value* add_param(const std::string& name, Tensor tensor);
  // The same, sharing data that is already immutable (no copy).
  Value* add_param(const std::string& name, std::shared_ptr<const Tensor> tensor);
  // Appends a node; its output value takes the node's name. Shapes are set
  // later by infer_shapes().
  Node* add_node(const std::string& name, const std::string& op, std::vector<Value*> inputs,
                 Attrs attrs = {});
  void set_outputs(std::vector<Value*> outputs);

  // Points every use of `from` (node inputs and graph outputs) at `to`.
  void replace_all_uses(Value* from, Value* to);
  // Replaces input `index` of `node`, keeping user lists right.
  void set_input(Node* node, size_t index, Value* value);
  // Appends an input to `node` (e.g. a bias to a conv that had none).
  void add_input_to(Node* node, Value* value);
  // Replaces all of `node`'s inputs (a fusion that rewrites a node in place).
  void set_inputs(Node* node, std::vector<Value*> inputs);
  // Removes `node` and its output value; throws if the output still has users
  // or is a graph output.
  void erase_node(Node* node);
  // Removes parameters that no node uses any more.
  void erase_unused_params();

  // nullptr when there is no such value / node.
  Value* find_value(const std::string& name) const;
  Node* find_node(const std::string& name) const;
  // A name not yet taken by any value, `base` if free, else base_1, base_2...
  std::string unique_name(const std::string& base) const;

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  std::vector<Value*> params() const;  // in the order they were added
  bool is_output(const Value* value) const;
  // The nodes running `op`, in order: a copy, so a pass may erase nodes while it walks them.
  std::vector<Node*> nodes_of_op(const std::string& op) const;
  size_t count_op(const std::string& op) const;

 private:
  std::vector<std::unique_ptr<Node>> nodes_;    // topological order
  std::vector<std::unique_ptr<Value>> values_;  // inputs, params and node outputs
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
};

// The text dump: one line per node, stable across runs, e.g.
//   %layer1.0.conv1 = conv2d(%maxpool, $layer1.0.conv1.weight) {stride=[1, 1], ...} : [N, 64, 56, 56]
// (% an activation, $ a parameter).
std::string print(const Graph& graph);

std::string attr_str(const Attr& attr);

}  // namespace kiln::ir
