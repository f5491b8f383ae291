// Timing runs of a plan: medians and minima, never a single sample.
#pragma once

#include <vector>

#include "engine/engine.h"
#include "kiln/kiln.h"

namespace kiln::engine {

// Medians and minima of whole runs: the public API's Timing (kiln/kiln.h).
using TimingStats = kiln::Timing;

TimingStats summarize(std::vector<double> samples_ms);

// Times several contexts side by side on the same inputs, interleaving their
// runs (A B C A B C ...) so that drift in the machine's speed hits all alike.
// A timed run is Context::run into outputs kept from the run before, as a
// caller's loop of runs would do it.
std::vector<TimingStats> time_interleaved(std::vector<Context*> contexts,
                                          const std::vector<Context::InputRef>& inputs,
                                          int warmup, int iters);

}  // namespace kiln::engine
