// fuse_conv_add: see fuse_conv_add.h for what it matches, refuses and guarantees.
//
// In a ResNet block, out = relu(bn2(conv2(...)) + identity). After the BN
// fold that is conv -> add -> relu: two passes over an activation that the
// conv could finish while its output block is still in registers. The add is
// fused here; the activation after it is left to fuse_conv_activation, which
// runs next and knows every activation (this pass would only repeat it). The add
// node itself becomes the fused node, so it keeps its place in the
// topological order: after both the conv and the residual's producer.
#include "passes/fuse_conv_add.h"

#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

// Why `add` is not a residual add, of two activations of one shape; "" if it
// is. conv2d_add adds a residual of the conv's own output shape, so a
// broadcast add (x * gate's kin, x + bias) or one with a parameter stays an add.
static std::string residual_refusal(const ir::Node& add) {
  const ir::Value& a = *add.inputs.at(0);
  const ir::Value& b = *add.inputs.at(1);
  for (const ir::Value* v : {&a, &b}) {
    if (v->is_param()) return "operand '" + v->name + "' is a parameter, not a residual";
  }
  if (a.shape != b.shape)
    return "a broadcast add: a '" + a.name + "' " + ir::shape_str(a.shape) + ", b '" + b.name +
           "' " + ir::shape_str(b.shape);
  return "";
}

// Why operand `v` of `add` cannot be the conv fused into it; "" if it can.
static std::string conv_refusal(const ir::Graph& graph, const ir::Value& v) {
  const ir::Node* conv = v.producer;
  if (!conv) return "'" + v.name + "' is a graph input";
  if (conv->op != "conv2d") return "'" + v.name + "' is produced by " + conv->op + ", not conv2d";
  if (v.users.size() != 1)
    return "conv2d '" + conv->name + "' has " + std::to_string(v.users.size()) + " users";
  if (graph.is_output(&v)) return "conv2d '" + conv->name + "' is also a graph output";
  std::string activation = ir::attr_string(*conv, "activation", "none");
  if (activation != "none")
    return "conv2d '" + conv->name + "' applies " + activation + " before the add";
  return "";
}

// Turns `add` into conv2d_add(x, residual, weight, bias?) with the conv's
// attributes, erases the conv, and names it after the conv.
static void fuse_one(ir::Graph& graph, ir::Node* add, size_t conv_operand) {
  ir::Node* conv = add->inputs[conv_operand]->producer;
  ir::Value* residual = add->inputs[1 - conv_operand];
  graph.set_input(add, 0, conv->inputs[0]);
  graph.set_input(add, 1, residual);
  for (size_t i = 1; i < conv->inputs.size(); ++i) graph.add_input_to(add, conv->inputs[i]);
  add->op = "conv2d_add";
  add->attrs = conv->attrs;
  add->attrs["activation"] = std::string("none");  // fuse_conv_activation may set one
  const std::string name = conv->name;
  graph.erase_node(conv);  // its only user, the add, reads x now
  add->name = name;
  add->output->name = name;
}

PassReport fuse_conv_add(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* add : graph.nodes_of_op("add")) {
    std::string why_not = residual_refusal(*add);
    if (!why_not.empty()) {
      report.skipped.push_back({add->name, why_not});
      continue;
    }
    std::string why_a = conv_refusal(graph, *add->inputs.at(0));
    std::string why_b = conv_refusal(graph, *add->inputs.at(1));
    if (!why_a.empty() && !why_b.empty()) {
      report.skipped.push_back({add->name, "neither operand is a conv2d to fuse: a: " + why_a +
                                               "; b: " + why_b});
      continue;
    }
    const size_t conv_operand = why_a.empty() ? 0 : 1;
    const std::string conv = add->inputs[conv_operand]->producer->name;
    report.changed.push_back(conv + " + " + add->name + " into conv2d_add '" + conv + "'");
    report.replaced.push_back({add->name, conv});
    fuse_one(graph, add, conv_operand);
  }
  graph.erase_unused_params();
  return report;
}

}  // namespace kiln::passes
