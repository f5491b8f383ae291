#include "engine/verify_fusion.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/engine.h"

namespace kiln::engine {

// Runs `graph` with every node's output as a graph output; returns them by name.
static std::map<std::string, ir::Tensor> run_keeping_all(const ir::Graph& graph,
                                                         const std::vector<ir::Tensor>& inputs,
                                                         const CompileOptions& options) {
  ir::Graph g = graph.clone();
  std::vector<ir::Value*> outputs;
  for (const auto& node : g.nodes()) outputs.push_back(node->output);
  g.set_outputs(outputs);
  std::vector<ir::Tensor> values = run_graph(g, inputs, options);
  std::map<std::string, ir::Tensor> by_name;
  for (size_t i = 0; i < outputs.size(); ++i) by_name[outputs[i]->name] = std::move(values[i]);
  return by_name;
}

FusionCheck check_fusion(const ir::Graph& unfused, const ir::Graph& fused,
                         const std::vector<passes::PassReport>& reports,
                         const std::vector<ir::Tensor>& inputs, double rel_tolerance,
                         const CompileOptions& fused_options) {
  // source[v]: the unfused value that fused value v stands for.
  std::map<std::string, std::string> source;
  for (const passes::PassReport& report : reports) {
    for (const auto& [before, after] : report.replaced) {
      auto it = source.find(before);
      source[after] = it == source.end() ? before : it->second;
    }
  }
  std::map<std::string, ir::Tensor> ref = run_keeping_all(unfused, inputs, CompileOptions{});
  std::map<std::string, ir::Tensor> got = run_keeping_all(fused, inputs, fused_options);

  FusionCheck check;
  for (const auto& node : fused.nodes()) {
    auto s = source.find(node->name);
    std::string reference = s == source.end() ? node->name : s->second;
    auto r = ref.find(reference);
    const ir::Tensor& y = got.at(node->name);
    if (r == ref.end() || r->second.shape != y.shape) continue;  // no counterpart
    NodeCheck c{node->name, reference, 0, 0, 0};
    for (size_t i = 0; i < y.data.size(); ++i) {
      double d = std::fabs(double(y.data[i]) - double(r->second.data[i]));
      c.max_abs_diff = std::isnan(d) ? INFINITY : std::max(c.max_abs_diff, d);
      c.max_abs_reference = std::max(c.max_abs_reference, std::fabs(double(r->second.data[i])));
    }
    c.tolerance = std::max(rel_tolerance * c.max_abs_reference, 1e-12);
    check.nodes.push_back(c);
  }
  return check;
}

}  // namespace kiln::engine
