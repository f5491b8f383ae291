// Per-step profiles of a plan and Chrome traces of one run.
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"

namespace kiln::engine {

struct StepProfile {
  std::string name;            // node name, or "reorder <value>"
  std::string op;              // op, or "reorder"
  std::string implementation;  // e.g. oneDNN's "jit:avx2"
  std::string reason;          // StepInfo::reason: why that kernel, for convs
  double median_ms = 0;
  double min_ms = 0;
  double percent = 0;  // of the sum of all steps' medians
  double gflops = 0;   // at the median time
};

// Runs `warmup` untimed and `iters` timed runs, timing each step on its own.
std::vector<StepProfile> profile(const Plan& plan, Context& ctx,
                                 const std::vector<Context::InputRef>& inputs, int warmup,
                                 int iters);

// The Chrome trace (chrome://tracing, Perfetto) of one run, as JSON text:
// one complete ("X") event per step.
std::string chrome_trace(const Plan& plan, const std::vector<Context::StepTime>& times);

// Runs `ctx` once on `inputs` and writes that run's Chrome trace to `path`.
void write_chrome_trace(const Plan& plan, Context& ctx,
                        const std::vector<Context::InputRef>& inputs, const std::string& path);

}  // namespace kiln::engine
