// fuse_swish: see fuse_swish.h for what it matches, refuses and guarantees.
//
// The gate node G comes before M in the topological order and reads only X,
// so G is the one rewritten: it keeps its place, and every user of M (which
// comes after M, so after G) may read it.
#include "passes/fuse_swish.h"

#include <string>

namespace kiln::passes {

// The swish op that x * `gate_op`(x) is, or "" if none.
static std::string swish_of(const std::string& gate_op) {
  if (gate_op == "sigmoid") return "silu";
  if (gate_op == "hardsigmoid") return "hardswish";
  return "";
}

// The gate of `mul` when it is x * gate(x) (either order), else null.
static ir::Node* gate_of(const ir::Node& mul) {
  if (mul.inputs.size() != 2) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    ir::Node* gate = mul.inputs[i]->producer;
    if (gate && !swish_of(gate->op).empty() && gate->inputs.size() == 1 &&
        gate->inputs[0] == mul.inputs[1 - i])
      return gate;
  }
  return nullptr;
}

PassReport fuse_swish(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* mul : graph.nodes_of_op("mul")) {
    ir::Node* gate = gate_of(*mul);
    if (!gate) continue;  // most muls are other products: not worth a line each
    const std::string why = output_must_stay(graph, *gate);
    if (!why.empty()) {
      report.skipped.push_back({mul->name, why});
      continue;
    }
    const std::string swish = swish_of(gate->op);
    report.changed.push_back(mul->name + " (x * " + gate->op + "(x)) into " + swish);
    const std::string name = mul->name;
    graph.replace_all_uses(mul->output, gate->output);
    graph.erase_node(mul);
    gate->op = swish;
    gate->name = name;
    gate->output->name = name;
  }
  return report;
}

}  // namespace kiln::passes
