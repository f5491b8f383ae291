// engine-run's two modes: run a model once (or timed), or compare it unfused
// and fused. Each returns the process exit status; errors are thrown.
#pragma once

#include "engine/cli/options.h"

namespace kiln::cli {

int run_model(const Options& options);
int compare_model(const Options& options);
int verify_model(const Options& options);

}  // namespace kiln::cli
