// fuse_conv_activation: see fuse_conv_activation.h for what it matches, refuses and guarantees.
//
// An activation after a conv (or a standalone batchnorm, as DenseNet's after
// each concat) costs a full read and write of its output; as a post-op it is
// applied to each output block while it is still in registers.
// The pass knows the activations and the ops that apply them only through
// their schemas (post_op_activation, post_op_attrs, takes_activations), so
// passes/ stays free of ops/.
#include "passes/fuse_conv_activation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

// The ops the producer of an activation's input must be, for the messages.
static const char* const kTakers = "conv2d, conv2d_add, linear, batchnorm or concat_batchnorm";

static std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Whether `node` is a depthwise conv2d: groups > 1, one input channel each.
static bool is_depthwise(const ir::Node& node) {
  if (node.op != "conv2d" || node.inputs.size() < 2) return false;
  const ir::Shape& w = node.inputs[1]->shape;
  return ir::attr_int(node, "groups", 1) > 1 && w.size() == 4 && w[1] == 1;
}

// Activations that run faster as their own step than as a post-op of a
// depthwise conv. oneDNN 2.6's depthwise kernels compute them inside a loop
// that is otherwise bound by memory; measured on AVX-512 (Zen 4, 2 threads,
// 144 channels at 56x56, batch 10): the conv alone 0.7-0.8 ms, with silu as a
// post-op 1.9-4.9 ms (swish spills to the stack, and what that costs depends
// on the thread's stack alignment), the conv then a separate silu 1.6-1.8 ms;
// sigmoid and gelu 1.8-2.5 ms fused against 1.5-1.8 ms apart. At batch 1
// the same order (silu: 0.19-0.24 ms fused, 0.15 ms apart). bench/README.md.
static bool slower_after_depthwise(const std::string& activation) {
  return activation == "silu" || activation == "sigmoid" || activation == "gelu";
}

// Why `act` cannot move into the node producing its input; "" if it can.
static std::string refusal(const ir::Graph& graph, const ir::OpTable& ops, const ir::Node& act) {
  const ir::Value* x = act.inputs.at(0);
  const ir::Node* producer = x->producer;
  if (!producer)
    return "input '" + x->name + "' is a graph input, not produced by " + kTakers;
  auto schema = ops.find(producer->op);
  if (schema == ops.end() || schema->second.takes_activations.empty())
    return "input '" + x->name + "' is produced by " + producer->op + ", not " + kTakers;
  const std::vector<std::string>& taken = schema->second.takes_activations;

  const std::string who = producer->op + " '" + producer->name + "'";
  if (std::find(taken.begin(), taken.end(), act.op) == taken.end())
    return who + " can apply only " + joined(taken) + " as a post-op (oneDNN's limit), not " +
           act.op;
  if (x->users.size() != 1)
    return "the output of " + who + " has " + std::to_string(x->users.size()) + " users (" +
           x->user_names() + "); fusing would change what the others read";
  if (graph.is_output(x))
    return "the output of " + who + " is also a graph output; fusing would change it";
  std::string activation = ir::attr_string(*producer, "activation", "none");
  if (activation != "none") return who + " already applies " + activation;
  if (is_depthwise(*producer) && slower_after_depthwise(act.op))
    return who + " is depthwise: " + act.op +
           " runs faster as its own step than as a post-op of oneDNN's depthwise kernels";
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
    std::string reason = refusal(graph, ops, *act);
    if (!reason.empty()) {
      report.skipped.push_back({act->name, reason});
      continue;
    }
    ir::Node* producer = act->inputs[0]->producer;
    report.changed.push_back(act->name + " (" + act->op + ") into " + producer->name);
    report.replaced.push_back({act->name, producer->name});
    producer->attrs["activation"] = act->op;
    for (const std::string& attr : ops.at(act->op).post_op_attrs) {
      auto value = act->attrs.find(attr);
      if (value != act->attrs.end()) producer->attrs["activation_" + attr] = value->second;
    }
    graph.replace_all_uses(act->output, producer->output);
    graph.erase_node(act);
  }
  return report;
}

}  // namespace kiln::passes
