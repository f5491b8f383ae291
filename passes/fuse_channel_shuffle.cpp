// fuse_channel_shuffle: see fuse_channel_shuffle.h for what it matches,
// refuses and guarantees.
//
// The last reshape R2 is the node rewritten: it comes after everything the
// shuffle reads, and keeps its place, its name and its users.
#include "passes/fuse_channel_shuffle.h"

#include <string>
#include <vector>

#include "ir/attrs.h"

namespace kiln::passes {

namespace {

// G when reshape R1 splits the channels of a rank-4 x into [N, G, C/G, H, W], else 0.
int64_t shuffle_groups(const ir::Node& r1) {
  const ir::Shape& x = r1.inputs[0]->shape;
  const ir::Shape& v = r1.output->shape;
  if (x.size() != 4 || v.size() != 5) return 0;
  if (v[0] != x[0] || v[3] != x[2] || v[4] != x[3] || v[1] * v[2] != x[1]) return 0;
  return v[1];
}

// The concat whose inputs the shuffle may read instead of x, or null.
ir::Node* joined_concat(const ir::Graph& graph, const ir::Node& r1) {
  ir::Node* concat = r1.inputs[0]->producer;
  if (!concat || concat->op != "concat" || !channel_concat_refusal(graph, *concat).empty())
    return nullptr;
  return concat;
}

}  // namespace

PassReport fuse_channel_shuffle(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* r2 : graph.nodes_of_op("reshape")) {
    ir::Node* p = r2->inputs[0]->producer;
    if (!p || p->op != "permute") continue;
    ir::Node* r1 = p->inputs[0]->producer;
    if (!r1 || r1->op != "reshape") continue;
    const int64_t G = shuffle_groups(*r1);
    if (G == 0 || ir::attr_ints(*p, "dims", {}) != std::vector<int64_t>{0, 2, 1, 3, 4} ||
        r2->output->shape != r1->inputs[0]->shape)
      continue;  // some other reshape
    std::string why = output_must_stay(graph, *r1);
    if (why.empty()) why = output_must_stay(graph, *p);
    if (!why.empty()) {
      report.skipped.push_back({r2->name, why});
      continue;
    }
    ir::Node* concat = joined_concat(graph, *r1);
    std::vector<ir::Value*> inputs = concat ? concat->inputs : r1->inputs;
    report.changed.push_back(
        (concat ? "concat '" + concat->name + "', " : std::string()) + "reshape '" + r1->name +
        "', permute '" + p->name + "' and reshape '" + r2->name + "' into channel_shuffle (" +
        std::to_string(G) + " groups)");
    graph.set_inputs(r2, std::move(inputs));
    graph.erase_node(p);
    graph.erase_node(r1);
    if (concat) graph.erase_node(concat);
    r2->op = "channel_shuffle";
    r2->attrs = {{"groups", G}};
  }
  return report;
}

}  // namespace kiln::passes
