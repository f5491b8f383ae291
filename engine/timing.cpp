#include "engine/timing.h"

#include <algorithm>
#include <chrono>

namespace kiln::engine {

TimingStats summarize(std::vector<double> samples) {
  TimingStats s;
  s.runs = static_cast<int>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  s.median_ms = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.min_ms = samples.front();
  s.max_ms = samples.back();
  return s;
}

static double timed_run_ms(Context& ctx, const std::vector<Context::InputRef>& inputs,
                           std::vector<ir::Tensor>& outputs) {
  auto start = std::chrono::steady_clock::now();
  ctx.run(inputs, outputs);
  auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(end - start).count();
}

std::vector<TimingStats> time_interleaved(std::vector<Context*> contexts,
                                          const std::vector<Context::InputRef>& inputs,
                                          int warmup, int iters) {
  std::vector<std::vector<ir::Tensor>> outputs(contexts.size());
  for (int i = 0; i < warmup; ++i) {
    for (size_t c = 0; c < contexts.size(); ++c) contexts[c]->run(inputs, outputs[c]);
  }
  std::vector<std::vector<double>> samples(contexts.size());
  for (int i = 0; i < iters; ++i) {
    for (size_t c = 0; c < contexts.size(); ++c)
      samples[c].push_back(timed_run_ms(*contexts[c], inputs, outputs[c]));
  }
  std::vector<TimingStats> out;
  for (auto& s : samples) out.push_back(summarize(std::move(s)));
  return out;
}

}  // namespace kiln::engine
