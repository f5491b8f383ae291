// Timing runs of a plan: medians and minima, never a single sample.
#pragma once

#include <vector>

#include "engine/engine.h"

namespace kiln::engine {

struct TimingStats {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int runs = 0;
};

TimingStats summarize(std::vector<double> samples_ms);

// Runs `ctx` `warmup` times untimed, then `iters` times timed.
TimingStats time_runs(Context& ctx, const std::vector<ir::Tensor>& inputs, int warmup, int iters);

// Times several contexts side by side on the same inputs, interleaving their
// runs (A B C A B C ...) so that drift in the machine's speed hits all alike.
std::vector<TimingStats> time_interleaved(std::vector<Context*> contexts,
                                          const std::vector<ir::Tensor>& inputs, int warmup,
                                          int iters);

}  // namespace kiln::engine
