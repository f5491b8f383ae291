#include "passes/pass.h"

#include "ir/error.h"
#include "ir/verify.h"

namespace kiln::passes {

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
