// fuse_squeeze_excite: see fuse_squeeze_excite.h for what it matches, refuses
// and guarantees.
//
// The mul node M is the one rewritten: it comes after P, F and G, so after X,
// and keeps its place, its name and its users.
#include "passes/fuse_squeeze_excite.h"

#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

// A conv2d computing a matrix-vector product per pixel: 1x1, stride 1, no
// padding or dilation, one group.
static bool is_pointwise(const ir::Node* node) {
  if (!node || node->op != "conv2d" || node->inputs.size() < 2) return false;
  const ir::Shape& w = node->inputs[1]->shape;
  const std::vector<int64_t> ones = {1, 1}, zeros = {0, 0};
  return w.size() == 4 && w[2] == 1 && w[3] == 1 && ir::attr_ints(*node, "stride", ones) == ones &&
         ir::attr_ints(*node, "padding", zeros) == zeros &&
         ir::attr_ints(*node, "dilation", ones) == ones && ir::attr_int(*node, "groups", 1) == 1;
}

// The block behind mul operand `gate` when the other operand is `x`.
struct Block {
  ir::Node* pool = nullptr;
  ir::Node* squeeze = nullptr;  // F
  ir::Node* excite = nullptr;   // G
};

static Block block_of(ir::Value* gate, ir::Value* x) {
  ir::Node* excite = gate->producer;
  if (!is_pointwise(excite)) return {};
  ir::Node* squeeze = excite->inputs[0]->producer;
  if (!is_pointwise(squeeze)) return {};
  ir::Node* pool = squeeze->inputs[0]->producer;
  if (!pool || pool->op != "global_avg_pool2d" || pool->inputs[0] != x || x->shape.size() != 4)
    return {};
  return {pool, squeeze, excite};
}

// Why the block cannot be fused, or "".
static std::string refusal(const ir::Graph& graph, const Block& b) {
  for (const ir::Node* node : {b.pool, b.squeeze, b.excite}) {
    const std::string why = output_must_stay(graph, *node);
    if (!why.empty()) return why;
  }
  return "";
}

// `conv`'s activation attributes, renamed under `outer` ("squeeze_activation", ...).
static void copy_activation(const ir::Node& conv, const std::string& outer, ir::Attrs& to) {
  for (const auto& [key, value] : conv.attrs)
    if (key.compare(0, 10, "activation") == 0) to[outer + key] = value;
}

// `conv`'s bias, or a new zero one.
static ir::Value* bias_of(ir::Graph& graph, const ir::Node& conv) {
  if (conv.inputs.size() == 3) return conv.inputs[2];
  return graph.add_param(graph.unique_name(conv.name + ".bias"),
                         ir::Tensor({conv.inputs[1]->shape[0]}));
}

// The activation producing x, when the block is its only reader (through
// the pool and the mul) and nothing else needs x: it becomes the node's
// input_activation.
static ir::Node* input_activation(const ir::Graph& graph, const ir::Value* x,
                                  const ir::OpTable& ops) {
  ir::Node* act = x->producer;
  if (!act || act->inputs.size() != 1 || x->users.size() != 2 || graph.is_output(x)) return nullptr;
  const auto schema = ops.find(act->op);
  return schema != ops.end() && schema->second.post_op_activation ? act : nullptr;
}

PassReport fuse_squeeze_excite(ir::Graph& graph, const ir::OpTable& ops) {
  PassReport report;
  for (ir::Node* mul : graph.nodes_of_op("mul")) {
    if (mul->inputs.size() != 2) continue;
    Block b;
    ir::Value* x = nullptr;
    for (size_t i = 0; i < 2 && !b.pool; ++i) {
      b = block_of(mul->inputs[i], mul->inputs[1 - i]);
      x = mul->inputs[1 - i];
    }
    if (!b.pool) continue;  // most muls are other products: not worth a line each
    const std::string why = refusal(graph, b);
    if (!why.empty()) {
      report.skipped.push_back({mul->name, why});
      continue;
    }
    ir::Node* act = input_activation(graph, x, ops);
    report.changed.push_back((act ? act->name + ", " : "") + b.pool->name + ", " +
                             b.squeeze->name + ", " + b.excite->name + " and " + mul->name +
                             " into squeeze_excite");
    ir::Attrs attrs;
    if (act) {
      attrs["input_activation"] = act->op;
      for (const std::string& a : ops.at(act->op).post_op_attrs)
        if (act->attrs.count(a)) attrs["input_activation_" + a] = act->attrs.at(a);
    }
    copy_activation(*b.squeeze, "squeeze_", attrs);
    copy_activation(*b.excite, "gate_", attrs);
    graph.set_inputs(mul, {act ? act->inputs[0] : x, b.squeeze->inputs[1],
                           bias_of(graph, *b.squeeze), b.excite->inputs[1],
                           bias_of(graph, *b.excite)});
    mul->op = "squeeze_excite";
    mul->attrs = attrs;
    graph.erase_node(b.excite);
    graph.erase_node(b.squeeze);
    graph.erase_node(b.pool);
    if (act) graph.erase_node(act);
  }
  return report;
}

}  // namespace kiln::passes
