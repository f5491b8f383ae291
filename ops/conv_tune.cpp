// compile_conv_tuned: time each kernel that can run a conv node, keep the fastest.
#include "ops/conv_tune.h"

#include <algorithm>
#include <chrono>

#include "ir/attrs.h"
#include "ops/conv2d.h"
#include "ops/conv_choice.h"

namespace kiln::ops {

namespace {

using dnnl::memory;
using Clock = std::chrono::steady_clock;

// Per layer: 3 to 9 turns of every candidate, ending after the first turn
// that finishes past the budget. ResNet18's 3x3 layers take 0.3-5 ms a run
// (batch 1-10, 2 threads), so a layer costs 10-100 ms to tune.
constexpr int kWarmupRuns = 2;
constexpr int kMinTurns = 3;
constexpr int kMaxTurns = 9;
constexpr double kBudgetMs = 40;

// An activation buffer filled with 0.5 (uninitialised memory may hold
// denormals or NaNs, which time differently).
memory filled(const memory::desc& desc, const dnnl::engine& engine) {
  memory m(desc, engine);
  float* data = static_cast<float*>(m.get_data_handle());
  std::fill(data, data + desc.get_size() / sizeof(float), 0.5f);
  return m;
}

// One candidate set up to run as its plan step would: the reorders its inputs
// need from the producers' layouts, then the kernel.
class TimedKernel {
 public:
  TimedKernel(std::unique_ptr<Kernel> kernel, const CompileContext& ctx)
      : kernel_(std::move(kernel)), stream_(ctx.engine) {
    const memory output = filled(kernel_->output_desc(), ctx.engine);
    std::vector<memory> inputs;
    const size_t n = std::max<size_t>(1, ctx.input_descs.size());
    for (size_t i = 0; i < n; ++i) {
      const memory::desc want = kernel_->input_desc(i);
      const memory in = static_cast<int>(i) == kernel_->inplace_input()
                            ? output
                            : filled(want, ctx.engine);
      if (i < ctx.input_descs.size() && ctx.input_descs[i] != want) {
        const memory from = filled(ctx.input_descs[i], ctx.engine);
        reorders_.push_back({dnnl::reorder(from, in), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, in}}});
      }
      inputs.push_back(in);
    }
    const memory::desc sp = kernel_->scratchpad_desc();
    const memory scratchpad = sp.get_size() ? memory(sp, ctx.engine) : memory();
    args_ = kernel_->bind(inputs, output, scratchpad);
  }

  // Runs once; returns the milliseconds it took.
  double run() {
    const Clock::time_point start = Clock::now();
    for (auto& [reorder, args] : reorders_) reorder.execute(stream_, args);
    kernel_->execute(stream_, args_);
    stream_.wait();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }

  std::unique_ptr<Kernel> take_kernel() { return std::move(kernel_); }

 private:
  std::unique_ptr<Kernel> kernel_;
  dnnl::stream stream_;
  ExecArgs args_;
  std::vector<std::pair<dnnl::reorder, ExecArgs>> reorders_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string post_op_name(dnnl::primitive::kind kind) {
  switch (kind) {
    case dnnl::primitive::kind::sum: return "sum";
    case dnnl::primitive::kind::eltwise: return "eltwise";
    case dnnl::primitive::kind::binary: return "binary";
    default: return std::to_string(static_cast<int>(kind));
  }
}

}  // namespace

std::string conv_signature(const ir::Node& node, const dnnl::post_ops& post_ops, bool blocked) {
  const std::vector<int64_t> one = {1, 1}, zero = {0, 0};
  std::string s = node.op + " x " + ir::shape_str(node.inputs[0]->shape) + " weight " +
                  ir::shape_str(node.inputs[1]->shape) + (node.inputs.size() == 3 ? " bias" : "");
  s += " stride " + ir::attr_str(ir::attr_ints(node, "stride", one));
  s += " padding " + ir::attr_str(ir::attr_ints(node, "padding", zero));
  s += " dilation " + ir::attr_str(ir::attr_ints(node, "dilation", one));
  s += " groups " + std::to_string(ir::attr_int(node, "groups", 1));
  s += " activation " + ir::attr_string(node, "activation", "none");
  for (const auto& [key, value] : node.attrs) {
    if (key.rfind("activation_", 0) == 0) s += " " + key + " " + ir::attr_str(value);
  }
  if (post_ops.len() > 0) s += " post-ops";
  for (int i = 0; i < post_ops.len(); ++i) s += " " + post_op_name(post_ops.kind(i));
  if (blocked) s += " layout blocked";
  return s;
}

std::unique_ptr<Kernel> compile_conv_tuned(const ir::Node& node, const CompileContext& ctx,
                                           const dnnl::post_ops& post_ops, bool epilogue_fits,
                                           WinogradEpilogue epilogue) {
  std::vector<ConvChoice> candidates = conv_candidates(node, ctx, post_ops, epilogue_fits);
  if (candidates.size() == 1) return compile_conv2d_choice(node, candidates[0], epilogue);

  ConvTunings local;
  ConvTunings& tunings = ctx.conv_tunings ? *ctx.conv_tunings : local;
  const std::string signature = conv_signature(node, post_ops, ctx.blocked_convs);
  if (auto it = tunings.find(signature); it != tunings.end()) {
    for (const ConvChoice& c : candidates) {
      if (c.kernel != it->second.fastest()) continue;
      std::unique_ptr<Kernel> kernel = compile_conv2d_choice(node, c, epilogue);
      kernel->set_reason(std::string(conv_kernel_name(c.kernel)) + ": tune: " + it->second.str());
      return kernel;
    }
  }

  std::vector<TimedKernel> timed;
  for (const ConvChoice& c : candidates)
    timed.emplace_back(compile_conv2d_choice(node, c, epilogue), ctx);
  for (TimedKernel& t : timed) {
    for (int i = 0; i < kWarmupRuns; ++i) t.run();
  }
  std::vector<std::vector<double>> ms(timed.size());
  const Clock::time_point start = Clock::now();
  for (int turn = 0; turn < kMaxTurns; ++turn) {
    for (size_t i = 0; i < timed.size(); ++i) ms[i].push_back(timed[i].run());
    const double spent = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (turn + 1 >= kMinTurns && spent > kBudgetMs) break;
  }

  ConvTuning tuning;
  for (size_t i = 0; i < timed.size(); ++i)
    tuning.times.push_back({candidates[i].kernel, median(ms[i])});
  tunings[signature] = tuning;
  const ConvKernel fastest = tuning.fastest();
  for (size_t i = 0; i < timed.size(); ++i) {
    if (candidates[i].kernel != fastest) continue;
    std::unique_ptr<Kernel> kernel = timed[i].take_kernel();
    kernel->set_reason(std::string(conv_kernel_name(fastest)) + ": tune: " + tuning.str());
    return kernel;
  }
  // Not reached: the fastest is one of the candidates.
  return compile_conv2d_choice(node, candidates[0], epilogue);
}

}  // namespace kiln::ops
