// fuse_conv_activation: see fuse_conv_activation.h for what it matches, refuses and guarantees.
//
// An activation after a conv costs a full read and write of its output; as a
// post-op it is applied to each output block while it is still in registers.
// The pass knows the activations only through their schemas (post_op_activation,
// post_op_attrs), so passes/ stays free of ops/.
#include "passes/fuse_conv_activation.h"

#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

// The ops that take an `activation` attribute applied as a post-op.
static bool takes_activation(const std::string& op) {
  return op == "conv2d" || op == "conv2d_add" || op == "linear";
}

// Why `act` cannot move into the node producing its input; "" if it can.
static std::string refusal(const ir::Graph& graph, const ir::Node& act) {
  const ir::Value* x = act.inputs.at(0);
  const ir::Node* conv = x->producer;
  if (!conv)
    return "input '" + x->name + "' is a graph input, not produced by conv2d, conv2d_add or linear";
  if (!takes_activation(conv->op))
    return "input '" + x->name + "' is produced by " + conv->op +
           ", not conv2d, conv2d_add or linear";

  const std::string who = conv->op + " '" + conv->name + "'";
  if (x->users.size() != 1)
    return "the output of " + who + " has " + std::to_string(x->users.size()) + " users (" +
           x->user_names() + "); fusing would change what the others read";
  if (graph.is_output(x))
    return "the output of " + who + " is also a graph output; fusing would change it";
  std::string activation = ir::attr_string(*conv, "activation", "none");
  if (activation != "none") return who + " already applies " + activation;
  return "";
}

PassReport fuse_conv_activation(ir::Graph& graph, const ir::OpTable& ops) {
  PassReport report;
  std::vector<ir::Node*> activations;
  for (const auto& node : graph.nodes()) {
    auto schema = ops.find(node->op);
    if (schema != ops.end() && schema->second.post_op_activation) activations.push_back(node.get());
  }
  for (ir::Node* act : activations) {
    std::string reason = refusal(graph, *act);
    if (!reason.empty()) {
      report.skipped.push_back({act->name, reason});
      continue;
    }
    ir::Node* conv = act->inputs[0]->producer;
    report.changed.push_back(act->name + " (" + act->op + ") into " + conv->name);
    report.replaced.push_back({act->name, conv->name});
    conv->attrs["activation"] = act->op;
    for (const std::string& attr : ops.at(act->op).post_op_attrs) {
      auto value = act->attrs.find(attr);
      if (value != act->attrs.end()) conv->attrs["activation_" + attr] = value->second;
    }
    graph.replace_all_uses(act->output, conv->output);
    graph.erase_node(act);
  }
  return report;
}

}  // namespace kiln::passes
