#include "engine/cli/report.h"

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
  std::string s;
  char line[512];
  std::snprintf(line, sizeof line, "%-32s %-18s %-22s %10s %10s %6s %8s  %s\n", "node", "op",
                "implementation", "median ms", "min ms", "%", "GFLOP/s", "why (convs)");
  s += line;
  double total = 0, total_min = 0;
  for (const NodeProfile& p : steps) {
    std::snprintf(line, sizeof line, "%-32.32s %-18.18s %-22.22s %10.3f %10.3f %6.1f %8.1f",
                  p.name.c_str(), p.op.c_str(), p.implementation.c_str(), p.median_ms, p.min_ms,
                  p.percent, p.gflops);
    s += line;
    s += p.reason.empty() ? "\n" : "  " + p.reason + "\n";
    total += p.median_ms;
    total_min += p.min_ms;
  }
  std::snprintf(line, sizeof line, "%-32s %-18s %-22s %10.3f %10.3f %6.1f\n", "total", "", "",
                total, total_min, 100.0);
  return s + line;
}

}  // namespace kiln::cli
