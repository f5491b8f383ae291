// What engine-run prints besides its one-line results: pass reports and the
// per-step profile table.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln/kiln.h"

namespace kiln::cli {

// One line per pass; with `verbose`, each rewrite and each skip with its reason.
void print_reports(const std::vector<PassReport>& reports, bool verbose);

// The same for --json, always in full: [{"pass", "changed": [...], "skipped":
// [...]}], each skip "node: reason" as -v prints it (why a BN did not fold).
nlohmann::json reports_json(const std::vector<PassReport>& reports);

// A table, one row per step, and a total line.
std::string profile_table(const std::vector<NodeProfile>& steps);

}  // namespace kiln::cli
