// engine-run's three modes: run a model (timed, and optionally profiled or
// traced), compare it at every fuse level, or verify the fused graph against
// the unfused one node by node. Each returns the process exit status; errors
// are thrown.
#pragma once

#include "engine/cli/options.h"

namespace kiln::cli {

int run_model(const Options& options);
int compare_model(const Options& options);
int verify_model(const Options& options);

}  // namespace kiln::cli
