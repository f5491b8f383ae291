// Compiling a graph into a Plan: a kernel per node, reorders between
// layouts, and the buffer plan (memory_plan.h).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>
#include <unordered_map>

#include "engine/conv_tune_cache.h"
#include "engine/inplace_concat.h"
#include "engine/plan_impl.h"
#include "ir/attrs.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::engine {

using dnnl::memory;

Plan::Plan(std::unique_ptr<PlanImpl> impl) : impl_(std::move(impl)) {}
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
Plan::~Plan() = default;
int64_t Plan::batch() const { return impl_->batch; }
bool Plan::blocked_convs() const { return impl_->blocked_convs; }
const std::vector<ir::Shape>& Plan::input_shapes() const { return impl_->input_shapes; }
const std::vector<ir::Shape>& Plan::output_shapes() const { return impl_->output_shapes; }
size_t Plan::step_count() const { return impl_->steps.size(); }
size_t Plan::activation_bytes() const { return impl_->memory.total_bytes(); }

std::vector<StepInfo> Plan::steps() const {
  std::vector<StepInfo> out;
  for (const Step& s : impl_->steps)
    out.push_back({s.name, s.op, s.kernel->implementation(), s.kernel->reason(),
                   s.inplace_input, s.flops});
  return out;
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
  PlanBuilder(PlanImpl& plan, const ir::Graph& graph, const CompileOptions& options,
              ops::ConvTunings* conv_tunings)
      : plan_(plan), options_(options), conv_tunings_(conv_tunings) {
    plan_.blocked_convs = ops::convs_blocked(options.conv_layout, plan.batch, ops::conv_work(graph));
    for (const auto& node : graph.nodes()) {
      for (const ir::Value* in : node->inputs) last_reader_[in] = node.get();
    }
    for (const ir::Value* out : graph.outputs()) last_reader_[out] = nullptr;  // read after the run
  }

  int add_tensor(const std::string& name, const memory::desc& desc) {
    plan_.tensors.push_back({name, desc});
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
    ops::CompileContext ctx{ops::cpu_engine(), {}, {}, options_.conv_algo, conv_tunings_};
    ctx.blocked_convs = plan_.blocked_convs;
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
    if (node.op == "concat") concats_.push_back(concat_site(node));
    const int inplace = kernel->inplace_input();
    plan_.steps.push_back(
        {node.name, node.op, std::move(kernel), inputs, out, node_flops(node), inplace});
  }

  void add_output(const ir::Value* value) {
    if (value->is_param())
      throw Error("graph output '" + value->name + "' is a parameter, not computed");
    plan_.output_tensors.push_back(tensor_in_layout(value, ops::plain_desc(value->shape)));
  }

  const std::vector<ConcatSite>& concats() const { return concats_; }

  // Drops the graph's references to the parameters `node` (added) is the last
  // to read: its kernel holds packed copies, so a graph that owns them alone
  // frees them. They are parameters no more; only compile() still walks the graph.
  void drop_params_read_last_by(const ir::Node& node) const {
    for (ir::Value* in : node.inputs) {
      if (in->is_param() && last_reader_.at(in) == &node) in->data.reset();
    }
  }

 private:
  PlanImpl& plan_;
  CompileOptions options_;
  ops::ConvTunings* conv_tunings_;
  std::unordered_map<const ir::Value*, int> tensor_of_;
  std::unordered_map<const ir::Value*, const ir::Node*> last_reader_;  // null: a graph output
  std::map<std::pair<const ir::Value*, int>, std::vector<std::pair<int, int>>> reordered_;
  std::vector<ConcatSite> concats_;

  // The concat node about to become the last step (its schema checked the axis).
  ConcatSite concat_site(const ir::Node& node) const {
    ConcatSite site;
    site.step = static_cast<int>(plan_.steps.size());
    const int64_t rank = static_cast<int64_t>(node.output->shape.size());
    const int64_t axis = ir::attr_int(node, "axis", 0);
    site.axis = static_cast<int>(axis < 0 ? axis + rank : axis);
    for (const ir::Value* in : node.inputs) site.has_params = site.has_params || in->is_param();
    return site;
  }
};

// tune times each conv on the threads it will run on: other work on the
// cores preempts them (a preempted thread holds up its whole parallel region
// for a time slice, ~4 ms) and the times measure that work instead. Says so,
// once per process, when the 1-minute load average leaves fewer idle cores.
static void warn_if_busy_for_tuning() {
  static std::atomic<bool> warned{false};
  double load = 0;
  const double idle_cores = std::thread::hardware_concurrency() - max_threads();
  if (getloadavg(&load, 1) != 1 || load <= idle_cores + 1 || warned.exchange(true)) return;
  std::fprintf(stderr,
               "kiln: conv-algo tune on a busy machine (load average %.2f, %u cores, %d threads): "
               "its times, and the choices it stores for auto, may not hold on an idle one\n",
               load, std::thread::hardware_concurrency(), max_threads());
}

// Lets each elementwise step (Kernel::can_overwrite_input) write over its
// input where that input dies at the step: no later step reads it, it is no
// graph output, no view and has none, has no padding, appears once among the
// step's inputs, and has the output's layout. Those steps are memory-bound; writing into
// lines they have just read saves the read-for-ownership of a fresh buffer's
// lines, a third of their traffic once the tensor outgrows the caches, and
// the plan one buffer. After the concats are placed, which need their
// tensors untouched.
static void overwrite_dying_inputs(PlanImpl& plan) {
  const int n_steps = static_cast<int>(plan.steps.size());
  std::vector<int> last_reader(plan.tensors.size(), -1);
  std::vector<bool> has_views(plan.tensors.size(), false);
  for (int s = 0; s < n_steps; ++s) {
    for (int t : plan.steps[s].inputs) last_reader[t] = s;
  }
  for (int t : plan.output_tensors) last_reader[t] = n_steps;
  for (const PlanTensor& t : plan.tensors) {
    if (t.view_of >= 0) has_views[t.view_of] = true;
  }
  // Nor on a tensor whose layout pads its dimensions (6 channels in nChw16c):
  // oneDNN 2.6's binary ops with a scalar operand gave wrong values in place
  // there (tests/parity's arithmetic_broadcast under --conv-algo winograd).
  auto whole = [&](int t) {
    const dnnl_memory_desc_t& md = plan.tensors[t].desc.data;
    for (int d = 0; d < md.ndims; ++d) {
      if (md.padded_dims[d] != md.dims[d]) return false;
    }
    return plan.tensors[t].view_of < 0 && !has_views[t];
  };
  for (int s = 0; s < n_steps; ++s) {
    Step& step = plan.steps[s];
    if (step.inplace_input >= 0 || !whole(step.output)) continue;
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const int t = step.inputs[i];
      if (!step.kernel->can_overwrite_input(i) || last_reader[t] != s || !whole(t) ||
          std::count(step.inputs.begin(), step.inputs.end(), t) != 1 ||
          plan.tensors[t].desc != plan.tensors[step.output].desc)
        continue;
      step.inplace_input = static_cast<int>(i);
      break;
    }
  }
}

// The buffer plan and the scratchpad every step shares.
static void plan_buffers(PlanImpl& plan) {
  std::vector<MemoryTensor> tensors;
  for (const PlanTensor& t : plan.tensors)
    tensors.push_back({t.name, t.desc.get_size(), t.view_of, t.offset});
  std::vector<MemoryStep> steps;
  for (const Step& s : plan.steps) {
    steps.push_back({s.name, s.inputs, s.output, s.inplace_input});
    plan.scratchpad_bytes = std::max(plan.scratchpad_bytes, s.kernel->scratchpad_desc().get_size());
  }
  plan.memory = plan_memory(tensors, steps, plan.input_tensors, plan.output_tensors);
}

Plan compile(const ir::Graph& graph, int64_t batch, const CompileOptions& options) {
  // The clone shares the caller's parameters, which therefore stay.
  return compile(graph.clone(), batch, options);
}

Plan compile(ir::Graph&& graph, int64_t batch, const CompileOptions& options) {
  if (batch < 1) throw Error("compile: batch must be at least 1, got " + std::to_string(batch));
  ir::Graph g = std::move(graph);
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

  // auto follows what tune stored for this CPU; tune times every layer anew
  // (once per distinct layer) and stores the times.
  ops::ConvTunings conv_tunings;
  std::string cache_path, cpu;
  if (options.conv_algo == ops::ConvAlgo::auto_ || options.conv_algo == ops::ConvAlgo::tune) {
    cache_path = conv_tune_cache_path();
    cpu = conv_tune_cpu_key();
  }
  if (options.conv_algo == ops::ConvAlgo::auto_)
    conv_tunings = read_conv_tunings(cache_path, cpu);
  if (options.conv_algo == ops::ConvAlgo::tune) warn_if_busy_for_tuning();

  auto impl = std::make_unique<PlanImpl>();
  impl->batch = batch;
  PlanBuilder builder(*impl, g, options, &conv_tunings);
  for (const ir::Value* in : g.inputs()) {
    builder.add_input(in);
    impl->input_names.push_back(in->name);
    impl->input_shapes.push_back(in->shape);
  }
  for (const auto& node : g.nodes()) {
    builder.add_node(*node);
    builder.drop_params_read_last_by(*node);
  }
  for (const ir::Value* out : g.outputs()) {
    builder.add_output(out);
    impl->output_names.push_back(out->name);
    impl->output_shapes.push_back(out->shape);
  }
  if (options.conv_algo == ops::ConvAlgo::tune && !conv_tunings.empty())
    write_conv_tunings(cache_path, cpu, conv_tunings);
  if (options.inplace_concat) place_concats_in_place(*impl, builder.concats());
  if (options.inplace_elementwise) overwrite_dying_inputs(*impl);
  plan_buffers(*impl);
  return Plan(std::move(impl));
}

}  // namespace kiln::engine
