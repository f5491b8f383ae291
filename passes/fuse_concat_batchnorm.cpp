// fuse_concat_batchnorm: see fuse_concat_batchnorm.h for what it matches,
// refuses and guarantees.
//
// The batchnorm node B is the one rewritten: it comes after the concat C, so
// after every input C reads, and keeps its place, its name and its users.
#include "passes/fuse_concat_batchnorm.h"

#include <string>
#include <vector>

namespace kiln::passes {

PassReport fuse_concat_batchnorm(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* bn : graph.nodes_of_op("batchnorm")) {
    ir::Node* concat = bn->inputs[0]->producer;
    if (!concat || concat->op != "concat") continue;  // most batchnorms follow convs
    const std::string why = channel_concat_refusal(graph, *concat);
    if (!why.empty()) {
      report.skipped.push_back({bn->name, why});
      continue;
    }
    report.changed.push_back("concat '" + concat->name + "' and batchnorm '" + bn->name +
                             "' into concat_batchnorm");
    // B's inputs become C's inputs followed by B's parameters.
    std::vector<ir::Value*> inputs = concat->inputs;
    inputs.insert(inputs.end(), bn->inputs.begin() + 1, bn->inputs.end());
    graph.set_inputs(bn, std::move(inputs));
    graph.erase_node(concat);
    bn->op = "concat_batchnorm";
  }
  return report;
}

}  // namespace kiln::passes
