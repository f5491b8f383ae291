#include "engine/cli/report.h"

#include <algorithm>
#include <cstdio>

namespace kiln::cli {

void print_reports(const std::vector<PassReport>& reports, bool verbose) {
  for (const PassReport& r : reports) {
    std::printf("pass       %s: %zu changed, %zu skipped\n", r.pass.c_str(), r.changed.size(),
                r.skipped.size());
    if (!verbose) continue;
    for (const std::string& c : r.changed) std::printf("  changed  %s\n", c.c_str());
    for (const std::string& s : r.skipped) std::printf("  skipped  %s\n", s.c_str());
  }
}

void print_conv_reasons(const std::vector<StepInfo>& steps) {
  for (const StepInfo& step : steps) {
    if (!step.reason.empty())
      std::printf("  conv     %s: %s\n", step.name.c_str(), step.reason.c_str());
  }
}

nlohmann::json reports_json(const std::vector<PassReport>& reports) {
  nlohmann::json out = nlohmann::json::array();
  for (const PassReport& r : reports)
    out.push_back({{"pass", r.pass}, {"changed", r.changed}, {"skipped", r.skipped}});
  return out;
}

std::string profile_table(const std::vector<NodeProfile>& steps) {
  // The text columns are as wide as their longest entry: a truncated name can
  // leave two rows looking alike (DenseNet's "features.denseblock2.denselayer1..."
  // for its layers 1 and 10 to 16).
  size_t name_w = 5, op_w = 2, impl_w = 14;  // "total", "op", "implementation"
  for (const NodeProfile& p : steps) {
    name_w = std::max(name_w, p.name.size());
    op_w = std::max(op_w, p.op.size());
    impl_w = std::max(impl_w, p.implementation.size());
  }
  std::string s;
  char numbers[128];
  auto row_start = [&](const std::string& name, const std::string& op, const std::string& impl) {
    s += name + std::string(name_w - name.size() + 1, ' ');
    s += op + std::string(op_w - op.size() + 1, ' ');
    s += impl + std::string(impl_w - impl.size(), ' ');
  };
  row_start("node", "op", "implementation");
  std::snprintf(numbers, sizeof numbers, " %10s %10s %6s %8s  %s\n", "median ms", "min ms", "%",
                "GFLOP/s", "why (convs)");
  s += numbers;
  double total = 0, total_min = 0;
  for (const NodeProfile& p : steps) {
    row_start(p.name, p.op, p.implementation);
    std::snprintf(numbers, sizeof numbers, " %10.3f %10.3f %6.1f %8.1f", p.median_ms, p.min_ms,
                  p.percent, p.gflops);
    s += numbers;
    s += p.reason.empty() ? "\n" : "  " + p.reason + "\n";
    total += p.median_ms;
    total_min += p.min_ms;
  }
  row_start("total", "", "");
  std::snprintf(numbers, sizeof numbers, " %10.3f %10.3f %6.1f\n", total, total_min, 100.0);
  return s + numbers;
}

}  // namespace kiln::cli
