// What engine-run prints besides its one-line results: pass reports, the
// convolutions' algorithms and the per-step profile table.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"

namespace kiln::cli {

// One line per pass; with `verbose`, each rewrite and each skip with its reason.
void print_reports(const std::vector<PassReport>& reports, bool verbose);

// For -v: one line per convolution step, its algorithm and why
// ("  conv     layer1.0.conv1: kiln winograd: 3x3 stride 1").
void print_conv_reasons(const std::vector<StepInfo>& steps);

// The pass reports for --json, always in full: [{"pass", "changed": [...], "skipped":
// [...]}], each skip "node: reason" as -v prints it (why a BN did not fold).
nlohmann::json reports_json(const std::vector<PassReport>& reports);

// A table, one row per step (a convolution's ends with its algorithm and
// why), and a total line.
std::string profile_table(const std::vector<NodeProfile>& steps);

}  // namespace kiln::cli
