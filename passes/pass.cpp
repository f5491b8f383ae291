#include "passes/pass.h"

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
