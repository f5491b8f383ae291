#include "engine/engine.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <new>
#include <unordered_map>

#include "engine/plan_impl.h"
#include "ir/error.h"
#include "ir/large_buffer.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/onnx/onnx.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "passes/fold_batchnorm.h"
#include "passes/fuse_conv_add.h"
#include "passes/fuse_conv_relu.h"

namespace kiln::engine {

using dnnl::memory;

ir::Graph load_model(const std::string& name_or_dir, uint64_t seed) {
  ir::Graph graph;
  std::error_code ec;
  if (std::filesystem::is_directory(name_or_dir, ec)) {
    graph = loaders::load_model_dir(name_or_dir);
  } else if (loaders::is_onnx_file(name_or_dir)) {
    graph = loaders::load_onnx(name_or_dir, ops::registry().schemas());
  } else if (loaders::is_builtin(name_or_dir)) {
    graph = loaders::builtin_model(name_or_dir, seed);
  } else {
    std::string names;
    for (const auto& n : loaders::builtin_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error(name_or_dir, "not a model directory, an .onnx file or a built-in model (built-ins: " +
                                 names + ")");
  }
  const ir::OpTable& ops = ops::registry().schemas();
  try {
    ir::infer_shapes(graph, ops);
    ir::verify(graph, ops);
  } catch (const Error& e) {
    // Name the model: "DIR: node 'x' (conv2d): ..."
    throw Error(name_or_dir, e.what());
  }
  return graph;
}

std::vector<passes::PassReport> fuse(ir::Graph& graph, FuseLevel level) {
  std::vector<passes::Pass> pipeline;
  if (level == FuseLevel::batchnorm || level == FuseLevel::all)
    pipeline.push_back({"fold_batchnorm", passes::fold_batchnorm});
  // conv + add (+ relu) before conv + relu, so a block's closing relu goes
  // into the conv2d_add rather than leaving the add behind.
  if (level == FuseLevel::all) {
    pipeline.push_back({"fuse_conv_add", passes::fuse_conv_add});
    pipeline.push_back({"fuse_conv_relu", passes::fuse_conv_relu});
  }
  return passes::run_passes(graph, pipeline, ops::registry().schemas());
}

// --- compile -----------------------------------------------------------------

Plan::Plan(std::unique_ptr<PlanImpl> impl) : impl_(std::move(impl)) {}
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
Plan::~Plan() = default;
int64_t Plan::batch() const { return impl_->batch; }
const std::vector<ir::Shape>& Plan::input_shapes() const { return impl_->input_shapes; }
const std::vector<ir::Shape>& Plan::output_shapes() const { return impl_->output_shapes; }
size_t Plan::step_count() const { return impl_->steps.size(); }
size_t Plan::activation_bytes() const {
  size_t total = 0;
  for (size_t b : impl_->buffer_bytes) total += b;
  return total;
}

// A reorder between two layouts of one tensor, as a kernel like any other.
static std::unique_ptr<ops::Kernel> make_reorder(const memory::desc& from, const memory::desc& to) {
  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::reorder::primitive_desc pd(engine, from, engine, to, ops::make_attr());
  return std::make_unique<ops::PrimitiveKernel>(
      dnnl::reorder(pd), std::vector<ops::PrimitiveKernel::Input>{{DNNL_ARG_FROM, from}}, to,
      pd.scratchpad_desc(), ops::ExecArgs{}, DNNL_ARG_TO);
}

// Floating-point operations of one node: 2 per multiply-add for a node whose
// first parameter is a weight with the output channel in dim 0 (conv2d,
// conv2d_add, linear: each output element takes weight.numel / OC
// multiply-adds), else one per output element.
static double node_flops(const ir::Node& node) {
  double out = static_cast<double>(ir::shape_numel(node.output->shape));
  for (const ir::Value* in : node.inputs) {
    if (!in->is_param()) continue;
    const ir::Shape& w = in->shape;
    if (w.size() >= 2) return 2 * out * static_cast<double>(ir::shape_numel(w) / w[0]);
    break;
  }
  return out;
}

// Builds tensors and steps in graph order, inserting reorders where a kernel
// wants its input in a layout other than the one its producer wrote.
class PlanBuilder {
 public:
  // `graph` is the one whose nodes will be added, to know each value's last reader.
  PlanBuilder(PlanImpl& plan, const ir::Graph& graph, const CompileOptions& options)
      : plan_(plan), options_(options) {
    for (const auto& node : graph.nodes()) {
      for (const ir::Value* in : node->inputs) last_reader_[in] = node.get();
    }
    for (const ir::Value* out : graph.outputs()) last_reader_[out] = nullptr;  // read after the run
  }

  int add_tensor(const std::string& name, const memory::desc& desc) {
    plan_.tensors.push_back({name, desc, -1});
    return static_cast<int>(plan_.tensors.size()) - 1;
  }

  // The tensor holding `value` in layout `desc`, reordering (once per layout) if needed.
  int tensor_in_layout(const ir::Value* value, const memory::desc& desc) {
    int id = tensor_of_.at(value);
    if (plan_.tensors[id].desc == desc) return id;
    auto key = std::make_pair(value, id);
    for (const auto& [k, converted] : reordered_[key]) {
      if (plan_.tensors[converted].desc == desc) return converted;
    }
    int out = add_tensor(value->name + " (reordered)", desc);
    plan_.steps.push_back({"reorder " + value->name, "reorder",
                           make_reorder(plan_.tensors[id].desc, desc), {id}, out});
    reordered_[key].push_back({id, out});
    return out;
  }

  void add_input(const ir::Value* value) {
    int id = add_tensor(value->name, ops::plain_desc(value->shape));
    tensor_of_[value] = id;
    plan_.input_tensors.push_back(id);
  }

  void add_node(const ir::Node& node) {
    const ops::OpDef* def = ops::registry().find(node.op);
    if (!def) throw Error(node.where(), "unknown op '" + node.op + "'");
    std::vector<const ir::Value*> activations;
    ops::CompileContext ctx{ops::cpu_engine(), {}, {}, options_.conv_algo};
    for (const ir::Value* in : node.inputs) {
      if (in->is_param()) continue;
      activations.push_back(in);
      ctx.input_descs.push_back(plan_.tensors[tensor_of_.at(in)].desc);
      ctx.last_use.push_back(last_reader_.at(in) == &node);
    }
    std::unique_ptr<ops::Kernel> kernel = def->compile(node, ctx);
    std::vector<int> inputs;
    for (size_t i = 0; i < activations.size(); ++i)
      inputs.push_back(tensor_in_layout(activations[i], kernel->input_desc(i)));
    int out = add_tensor(node.name, kernel->output_desc());
    tensor_of_[node.output] = out;
    plan_.steps.push_back({node.name, node.op, std::move(kernel), inputs, out, node_flops(node)});
  }

  void add_output(const ir::Value* value) {
    if (value->is_param())
      throw Error("graph output '" + value->name + "' is a parameter, not computed");
    plan_.output_tensors.push_back(tensor_in_layout(value, ops::plain_desc(value->shape)));
  }

 private:
  PlanImpl& plan_;
  CompileOptions options_;
  std::unordered_map<const ir::Value*, int> tensor_of_;
  std::unordered_map<const ir::Value*, const ir::Node*> last_reader_;  // null: a graph output
  std::map<std::pair<const ir::Value*, int>, std::vector<std::pair<int, int>>> reordered_;
};

// Gives every tensor a buffer. A buffer is reused once the last reader of
// its tensor has run, so peak memory is a few activations, not all of them.
static void plan_buffers(PlanImpl& plan) {
  const int n_steps = static_cast<int>(plan.steps.size());
  std::vector<int> last_use(plan.tensors.size(), -1);
  for (int s = 0; s < n_steps; ++s) {
    for (int t : plan.steps[s].inputs) last_use[t] = s;
  }
  for (int t : plan.output_tensors) last_use[t] = n_steps;  // read after the last step
  for (int t : plan.input_tensors) last_use[t] = std::max(last_use[t], 0);

  std::vector<int> free_buffers;
  auto acquire = [&](int tensor) {
    size_t bytes = plan.tensors[tensor].desc.get_size();
    // Best fit among free buffers: the smallest that holds it, else the largest (grown).
    int best = -1;
    for (int b : free_buffers) {
      bool fits = plan.buffer_bytes[b] >= bytes;
      if (best < 0) { best = b; continue; }
      bool best_fits = plan.buffer_bytes[best] >= bytes;
      if (fits && (!best_fits || plan.buffer_bytes[b] < plan.buffer_bytes[best])) best = b;
      if (!fits && !best_fits && plan.buffer_bytes[b] > plan.buffer_bytes[best]) best = b;
    }
    if (best < 0) {
      plan.buffer_bytes.push_back(0);
      best = static_cast<int>(plan.buffer_bytes.size()) - 1;
    } else {
      free_buffers.erase(std::find(free_buffers.begin(), free_buffers.end(), best));
    }
    plan.buffer_bytes[best] = std::max(plan.buffer_bytes[best], bytes);
    plan.tensors[tensor].buffer = best;
  };
  auto release_dead_inputs = [&](int step) {
    for (int t : plan.steps[step].inputs) {
      if (last_use[t] == step && plan.tensors[t].buffer >= 0 &&
          std::find(free_buffers.begin(), free_buffers.end(), plan.tensors[t].buffer) ==
              free_buffers.end())
        free_buffers.push_back(plan.tensors[t].buffer);
    }
  };

  for (int t : plan.input_tensors) {
    if (plan.tensors[t].buffer < 0) acquire(t);
  }
  for (const Step& step : plan.steps)
    plan.scratchpad_bytes = std::max(plan.scratchpad_bytes, step.kernel->scratchpad_desc().get_size());
  for (int s = 0; s < n_steps; ++s) {
    Step& step = plan.steps[s];
    int inplace = step.kernel->inplace_input();
    if (inplace >= 0) {
      // The output overwrites that input's buffer; the input must die here.
      int in = step.inputs.at(inplace);
      if (last_use[in] != s)
        throw Error("node '" + step.name + "': in-place input '" + plan.tensors[in].name +
                    "' is still read later");
      plan.tensors[step.output].buffer = plan.tensors[in].buffer;
      for (int t : step.inputs) {
        if (t != in && last_use[t] == s) free_buffers.push_back(plan.tensors[t].buffer);
      }
      continue;
    }
    acquire(step.output);
    release_dead_inputs(s);
    if (last_use[step.output] < 0)  // an output nobody reads: free it at once
      free_buffers.push_back(plan.tensors[step.output].buffer);
  }
}

Plan compile(const ir::Graph& graph, int64_t batch, const CompileOptions& options) {
  if (batch < 1) throw Error("compile: batch must be at least 1, got " + std::to_string(batch));
  ir::Graph g = graph.clone();
  for (ir::Value* in : g.inputs()) {
    if (in->shape.empty()) throw Error("graph input '" + in->name + "' has no shape");
    if (in->shape[0] == ir::kBatch) {
      in->shape[0] = batch;
    } else if (in->shape[0] != batch) {
      throw Error("graph input '" + in->name + "' has a fixed batch of " +
                  std::to_string(in->shape[0]) + ", cannot compile for batch " +
                  std::to_string(batch));
    }
  }
  ir::infer_shapes(g, ops::registry().schemas());

  auto impl = std::make_unique<PlanImpl>();
  impl->batch = batch;
  PlanBuilder builder(*impl, g, options);
  for (const ir::Value* in : g.inputs()) {
    builder.add_input(in);
    impl->input_names.push_back(in->name);
    impl->input_shapes.push_back(in->shape);
  }
  for (const auto& node : g.nodes()) builder.add_node(*node);
  for (const ir::Value* out : g.outputs()) {
    builder.add_output(out);
    impl->output_names.push_back(out->name);
    impl->output_shapes.push_back(out->shape);
  }
  plan_buffers(*impl);
  return Plan(std::move(impl));
}

// --- run ---------------------------------------------------------------------

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
    for (size_t bytes : p.buffer_bytes) buffers.emplace_back(bytes);
    for (const PlanTensor& t : p.tensors) {
      memories.emplace_back(t.desc, engine, t.buffer >= 0 ? buffers[t.buffer].data : nullptr);
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

Context::Context(const Plan& plan) : impl_(std::make_unique<ContextImpl>(plan.impl())) {}
Context::Context(Context&&) noexcept = default;
Context::~Context() = default;

std::vector<ir::Tensor> Context::run(const std::vector<ir::Tensor>& inputs) {
  return run_timed(inputs, nullptr);
}

std::vector<ir::Tensor> Context::run_timed(const std::vector<ir::Tensor>& inputs,
                                           std::vector<StepTime>* step_times) {
  const PlanImpl& plan = *impl_->plan;
  if (inputs.size() != plan.input_tensors.size())
    throw Error("run: the model takes " + std::to_string(plan.input_tensors.size()) +
                " input(s), got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape != plan.input_shapes[i])
      throw Error("input '" + plan.input_names[i] + "': expected shape " +
                  ir::shape_str(plan.input_shapes[i]) + ", got " + ir::shape_str(inputs[i].shape));
    if (static_cast<size_t>(inputs[i].numel()) != static_cast<size_t>(ir::shape_numel(inputs[i].shape)))
      throw Error("input '" + plan.input_names[i] + "': data does not match its shape");
    std::memcpy(impl_->memories[plan.input_tensors[i]].get_data_handle(), inputs[i].data.data(),
                inputs[i].data.size() * sizeof(float));
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
  std::vector<ir::Tensor> outputs;
  for (size_t o = 0; o < plan.output_tensors.size(); ++o) {
    ir::Tensor t(plan.output_shapes[o]);
    std::memcpy(t.data.data(), impl_->memories[plan.output_tensors[o]].get_data_handle(),
                t.data.size() * sizeof(float));
    outputs.push_back(std::move(t));
  }
  return outputs;
}

std::vector<ir::Tensor> run_graph(const ir::Graph& graph, const std::vector<ir::Tensor>& inputs,
                                  const CompileOptions& options) {
  if (inputs.empty() || inputs[0].shape.empty())
    throw Error("run_graph: needs at least one input with a batch dimension");
  Plan plan = compile(graph, inputs[0].shape[0], options);
  Context ctx(plan);
  return ctx.run(inputs);
}

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

int max_threads() { return omp_get_max_threads(); }

}  // namespace kiln::engine
