#include "passes/pass.h"

#include "ir/attrs.h"
#include "ir/error.h"
#include "ir/verify.h"

namespace kiln::passes {

std::string output_must_stay(const ir::Graph& graph, const ir::Node& node) {
  const std::string who = node.op + " '" + node.name + "'";
  if (node.output->users.size() != 1)
    return "the output of " + who + " has " + std::to_string(node.output->users.size()) +
           " users (" + node.output->user_names() + "); it must stay";
  if (graph.is_output(node.output)) return "the output of " + who + " is a graph output";
  return "";
}

std::string channel_concat_refusal(const ir::Graph& graph, const ir::Node& concat) {
  const std::string stays = output_must_stay(graph, concat);
  if (!stays.empty()) return stays;
  const std::string who = "concat '" + concat.name + "'";
  for (const ir::Value* in : concat.inputs) {
    if (in->is_param()) return who + " joins parameter '" + in->name + "'";
    if (in->shape.size() != 4)
      return who + " joins '" + in->name + "' of rank " + std::to_string(in->shape.size()) +
             ", not 4";
  }
  const int64_t axis = ir::attr_int(concat, "axis", 0);
  if (axis != 1 && axis != -3)
    return who + " joins along dim " + std::to_string(axis) + ", not the channels";
  return "";
}

std::vector<PassReport> run_passes(ir::Graph& graph, const std::vector<Pass>& passes,
                                   const ir::OpTable& ops) {
  std::vector<PassReport> reports;
  for (const Pass& pass : passes) {
    PassReport report = pass.run(graph, ops);
    report.pass = pass.name;
    try {
      ir::verify(graph, ops);
    } catch (const Error& e) {
      throw Error("pass '" + pass.name + "': " + e.what());
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace kiln::passes
