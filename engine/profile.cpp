#include "engine/profile.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/timing.h"
#include "ir/error.h"

namespace kiln::engine {

std::vector<StepProfile> profile(const Plan& plan, Context& ctx,
                                 const std::vector<Context::InputRef>& inputs, int warmup,
                                 int iters) {
  const std::vector<StepInfo> steps = plan.steps();
  for (int i = 0; i < warmup; ++i) ctx.execute(inputs);
  std::vector<std::vector<double>> samples(steps.size());
  std::vector<Context::StepTime> times;
  for (int i = 0; i < iters; ++i) {
    ctx.execute(inputs, &times);
    for (size_t s = 0; s < times.size(); ++s) samples[s].push_back(times[s].duration_ms);
  }
  std::vector<StepProfile> out;
  double total = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const StepInfo& step = steps[s];
    TimingStats t = summarize(samples[s]);
    StepProfile p{step.name, step.op, step.implementation, step.reason, t.median_ms, t.min_ms, 0, 0};
    p.gflops = t.median_ms > 0 ? step.flops / (t.median_ms * 1e6) : 0;
    total += t.median_ms;
    out.push_back(p);
  }
  for (StepProfile& p : out) p.percent = total > 0 ? 100 * p.median_ms / total : 0;
  return out;
}

std::string chrome_trace(const Plan& plan, const std::vector<Context::StepTime>& times) {
  const std::vector<StepInfo> steps = plan.steps();
  nlohmann::json events = nlohmann::json::array();
  for (size_t s = 0; s < steps.size() && s < times.size(); ++s) {
    const StepInfo& step = steps[s];
    nlohmann::json args = {{"op", step.op},
                           {"implementation", step.implementation},
                           {"gflop", step.flops / 1e9}};
    if (!step.reason.empty()) args["reason"] = step.reason;
    events.push_back({{"name", step.name},
                      {"cat", step.op},
                      {"ph", "X"},
                      {"ts", times[s].start_ms * 1000},
                      {"dur", times[s].duration_ms * 1000},
                      {"pid", 1},
                      {"tid", 1},
                      {"args", args}});
  }
  nlohmann::json trace = {{"traceEvents", events},
                          {"displayTimeUnit", "ms"},
                          {"otherData", {{"batch", plan.batch()}}}};
  return trace.dump(1) + "\n";
}

void write_chrome_trace(const Plan& plan, Context& ctx,
                        const std::vector<Context::InputRef>& inputs, const std::string& path) {
  std::vector<Context::StepTime> times;
  ctx.execute(inputs, &times);
  std::ofstream f(path, std::ios::binary);
  if (f) f << chrome_trace(plan, times);
  if (!f) throw Error(path, std::string("cannot write: ") + std::strerror(errno));
}

}  // namespace kiln::engine
