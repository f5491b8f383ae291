// Running a Plan: a Context's buffers, bound once, and the run itself.
#include <omp.h>

#include <chrono>
#include <cstring>
#include <new>

#include "engine/plan_impl.h"
#include "ir/error.h"
#include "ir/large_buffer.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::engine {

using dnnl::memory;

// Storage for one buffer: 64-byte aligned, on huge pages when large (ir/large_buffer.h).
struct AlignedBuffer {
  explicit AlignedBuffer(size_t bytes) : data(allocate(bytes)) {}
  AlignedBuffer(AlignedBuffer&& o) noexcept : data(o.data) { o.data = nullptr; }
  AlignedBuffer(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { ir::free_large(data); }

  char* data;

 private:
  static char* allocate(size_t bytes) {
    try {
      return static_cast<char*>(ir::allocate_large(bytes));
    } catch (const std::bad_alloc&) {
      throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
    }
  }
};

struct ContextImpl {
  const PlanImpl* plan;
  dnnl::stream stream;
  std::vector<AlignedBuffer> buffers;
  AlignedBuffer scratchpad;
  std::vector<memory> memories;      // per PlanTensor
  std::vector<ops::ExecArgs> args;   // per Step

  explicit ContextImpl(const PlanImpl& p)
      : plan(&p), stream(ops::cpu_engine()), scratchpad(p.scratchpad_bytes) {
    const dnnl::engine& engine = ops::cpu_engine();
    for (size_t bytes : p.memory.buffer_bytes) buffers.emplace_back(bytes);
    for (size_t t = 0; t < p.tensors.size(); ++t) {
      int b = p.memory.buffer_of[t];
      char* data = b >= 0 ? buffers[b].data + p.memory.offset_of[t] : nullptr;
      memories.emplace_back(p.tensors[t].desc, engine, data);
    }
    for (const Step& step : p.steps) {
      std::vector<memory> inputs;
      for (int t : step.inputs) inputs.push_back(memories[t]);
      memory::desc sp = step.kernel->scratchpad_desc();
      memory scratch = sp.get_size() ? memory(sp, engine, scratchpad.data) : memory();
      args.push_back(step.kernel->bind(inputs, memories[step.output], scratch));
    }
  }
};

Context::Context(const Plan& plan) : impl_(std::make_unique<ContextImpl>(plan_impl(plan))) {}
Context::Context(Context&&) noexcept = default;
Context::~Context() = default;

std::vector<ir::Tensor> Context::run(const std::vector<ir::Tensor>& inputs) {
  std::vector<ir::Tensor> outputs;
  run(std::vector<InputRef>(inputs.begin(), inputs.end()), outputs);
  return outputs;
}

void Context::run(const std::vector<InputRef>& inputs, std::vector<ir::Tensor>& outputs) {
  execute(inputs);
  const PlanImpl& plan = *impl_->plan;
  outputs.resize(plan.output_tensors.size());
  for (size_t o = 0; o < plan.output_tensors.size(); ++o) {
    const float* y = output(o);
    const auto n = static_cast<size_t>(ir::shape_numel(plan.output_shapes[o]));
    outputs[o].shape = plan.output_shapes[o];
    // Copied straight in: within the tensor's capacity, no allocation; into
    // a new tensor, no zero-filling first (a large output written twice).
    outputs[o].data.assign(y, y + n);
  }
}

void Context::execute(const std::vector<InputRef>& inputs, std::vector<StepTime>* step_times) {
  const PlanImpl& plan = *impl_->plan;
  if (inputs.size() != plan.input_tensors.size())
    throw Error("run: the model takes " + std::to_string(plan.input_tensors.size()) +
                " input(s), got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Shape& shape = *inputs[i].shape;
    if (shape != plan.input_shapes[i])
      throw Error("input '" + plan.input_names[i] + "': expected shape " +
                  ir::shape_str(plan.input_shapes[i]) + ", got " + ir::shape_str(shape));
    const auto n = static_cast<size_t>(ir::shape_numel(shape));
    if (inputs[i].size != n)
      throw Error("input '" + plan.input_names[i] + "': shape " + ir::shape_str(shape) + " needs " +
                  std::to_string(n) + " values, got " + std::to_string(inputs[i].size));
    std::memcpy(impl_->memories[plan.input_tensors[i]].get_data_handle(), inputs[i].data,
                n * sizeof(float));
  }
  if (step_times) {
    // Each step is waited for, so its time is its own.
    step_times->assign(plan.steps.size(), {});
    auto origin = std::chrono::steady_clock::now();
    auto ms_since = [&](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double, std::milli>(t - origin).count();
    };
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      auto start = std::chrono::steady_clock::now();
      plan.steps[s].kernel->execute(impl_->stream, impl_->args[s]);
      impl_->stream.wait();
      auto end = std::chrono::steady_clock::now();
      (*step_times)[s] = {ms_since(start), ms_since(end) - ms_since(start)};
    }
  } else {
    for (size_t s = 0; s < plan.steps.size(); ++s)
      plan.steps[s].kernel->execute(impl_->stream, impl_->args[s]);
    impl_->stream.wait();
  }
}

const float* Context::output(size_t o) const {
  const PlanImpl& plan = *impl_->plan;
  return static_cast<const float*>(impl_->memories[plan.output_tensors.at(o)].get_data_handle());
}

std::vector<ir::Tensor> run_graph(const ir::Graph& graph, const std::vector<ir::Tensor>& inputs,
                                  const CompileOptions& options) {
  return run_graph(graph.clone(), inputs, options);
}

std::vector<ir::Tensor> run_graph(ir::Graph&& graph, const std::vector<ir::Tensor>& inputs,
                                  const CompileOptions& options) {
  if (inputs.empty() || inputs[0].shape.empty())
    throw Error("run_graph: needs at least one input with a batch dimension");
  Plan plan = compile(std::move(graph), inputs[0].shape[0], options);
  Context ctx(plan);
  return ctx.run(inputs);
}

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

int max_threads() { return omp_get_max_threads(); }

}  // namespace kiln::engine
