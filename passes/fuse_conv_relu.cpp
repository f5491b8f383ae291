// fuse_conv_relu: see fuse_conv_relu.h for what it matches, refuses and guarantees.
//
// A relu after a conv costs a full read and write of the activation; as a
// post-op it is applied to each output block while it is still in registers.
#include "passes/fuse_conv_relu.h"

#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

// Why `relu` cannot move into the node producing its input; "" if it can.
static std::string refusal(const ir::Graph& graph, const ir::Node& relu) {
  const ir::Value* x = relu.inputs.at(0);
  const ir::Node* conv = x->producer;
  if (!conv) return "input '" + x->name + "' is a graph input, not produced by conv2d or conv2d_add";
  if (conv->op != "conv2d" && conv->op != "conv2d_add")
    return "input '" + x->name + "' is produced by " + conv->op + ", not conv2d or conv2d_add";

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

PassReport fuse_conv_relu(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* relu : graph.nodes_of_op("relu")) {
    std::string reason = refusal(graph, *relu);
    if (!reason.empty()) {
      report.skipped.push_back({relu->name, reason});
      continue;
    }
    ir::Node* conv = relu->inputs[0]->producer;
    report.changed.push_back(relu->name + " into " + conv->name);
    report.replaced.push_back({relu->name, conv->name});
    conv->attrs["activation"] = std::string("relu");
    graph.replace_all_uses(relu->output, conv->output);
    graph.erase_node(relu);
  }
  return report;
}

}  // namespace kiln::passes
