// The public API (kiln/kiln.h) on top of the engine.
#include "kiln/kiln.h"

#include <algorithm>

#include "engine/engine.h"
#include "engine/profile.h"
#include "engine/timing.h"
#include "engine/verify_fusion.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"
#include "loaders/random.h"

namespace kiln {

// --- Names -------------------------------------------------------------------

const std::vector<FuseNames>& fuse_levels() {
  static const std::vector<FuseNames> levels = {
      // level          name    label          JSON key stem
      {Fuse::none,      "none", "unfused",     "unfused"},
      {Fuse::batchnorm, "bn",   "fused (bn)",  "fused"},
      {Fuse::all,       "all",  "fused (all)", "fused_all"},
  };
  return levels;
}

const FuseNames& fuse_names(Fuse level) {
  for (const FuseNames& names : fuse_levels()) {
    if (names.level == level) return names;
  }
  throw Error("unknown Fuse value " + std::to_string(static_cast<int>(level)));
}

std::optional<Fuse> fuse_from_name(const std::string& name) {
  for (const FuseNames& names : fuse_levels()) {
    if (name == names.name) return names.level;
  }
  return std::nullopt;
}

static passes::FuseLevel to_passes(Fuse level) {
  switch (level) {
    case Fuse::none: return passes::FuseLevel::none;
    case Fuse::batchnorm: return passes::FuseLevel::batchnorm;
    case Fuse::all: return passes::FuseLevel::all;
  }
  throw Error("fuse: unknown Fuse value " + std::to_string(static_cast<int>(level)));
}

static ops::ConvAlgo to_ops(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::direct: return ops::ConvAlgo::direct;
    case ConvAlgo::winograd: return ops::ConvAlgo::winograd;
    case ConvAlgo::kiln_winograd: return ops::ConvAlgo::kiln_winograd;
    case ConvAlgo::auto_: return ops::ConvAlgo::auto_;
    case ConvAlgo::tune: return ops::ConvAlgo::tune;
  }
  throw Error("compile: unknown ConvAlgo value " + std::to_string(static_cast<int>(algo)));
}

static ops::ConvLayout to_ops(ConvLayout layout) {
  switch (layout) {
    case ConvLayout::auto_: return ops::ConvLayout::auto_;
    case ConvLayout::any: return ops::ConvLayout::any;
    case ConvLayout::blocked: return ops::ConvLayout::blocked;
  }
  throw Error("compile: unknown ConvLayout value " + std::to_string(static_cast<int>(layout)));
}

static engine::CompileOptions to_engine(const CompileOptions& options) {
  engine::CompileOptions out;
  out.conv_algo = to_ops(options.conv_algo);
  out.conv_layout = to_ops(options.conv_layout);
  return out;
}

const char* conv_algo_name(ConvAlgo algo) { return ops::conv_algo_name(to_ops(algo)); }

std::optional<ConvAlgo> conv_algo_from_name(const std::string& name) {
  for (ConvAlgo algo : {ConvAlgo::direct, ConvAlgo::winograd, ConvAlgo::kiln_winograd,
                        ConvAlgo::auto_, ConvAlgo::tune}) {
    if (name == conv_algo_name(algo)) return algo;
  }
  return std::nullopt;
}

std::string conv_algo_names() { return ops::conv_algo_names(); }

const char* conv_layout_name(ConvLayout layout) { return ops::conv_layout_name(to_ops(layout)); }

std::optional<ConvLayout> conv_layout_from_name(const std::string& name) {
  for (ConvLayout layout : {ConvLayout::auto_, ConvLayout::any, ConvLayout::blocked}) {
    if (name == conv_layout_name(layout)) return layout;
  }
  return std::nullopt;
}

std::string conv_layout_names() { return ops::conv_layout_names(); }

// --- Tensors -----------------------------------------------------------------

static_assert(kFreeBatch == ir::kBatch, "Model::input_shapes() passes ir shapes through");

std::string shape_str(const std::vector<int64_t>& shape) { return ir::shape_str(shape); }

static Tensor to_api(ir::Tensor t) {
  return {std::move(t.shape), std::vector<float>(t.data.begin(), t.data.end())};
}

static std::vector<ir::Tensor> to_ir(const std::vector<Tensor>& tensors) {
  std::vector<ir::Tensor> out;
  for (const Tensor& t : tensors) {
    if (static_cast<size_t>(ir::shape_numel(t.shape)) != t.data.size())
      throw Error("input tensor: shape " + ir::shape_str(t.shape) + " needs " +
                  std::to_string(ir::shape_numel(t.shape)) + " values, got " +
                  std::to_string(t.data.size()));
    out.push_back(ir::Tensor(t.shape, ir::TensorData(t.data.begin(), t.data.end())));
  }
  return out;
}

Tensor read_npy(const std::string& path) {
  return to_api(loaders::read_npy(path));
}

void write_npy(const std::string& path, const Tensor& tensor) {
  loaders::write_npy(path, to_ir({tensor}).at(0));
}

std::vector<Tensor> random_inputs(const std::vector<std::vector<int64_t>>& shapes, uint64_t seed) {
  loaders::Random rng(seed);
  std::vector<Tensor> out;
  for (const std::vector<int64_t>& shape : shapes)
    out.push_back(to_api(loaders::random_tensor(shape, rng, -1.0, 1.0)));
  return out;
}

// --- Model -------------------------------------------------------------------

struct Model::Impl {
  ir::Graph graph;
  std::vector<PassReport> reports;
};

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::Model(const Model& other) : impl_(std::make_unique<Impl>()) {
  impl_->graph = other.impl_->graph.clone();
  impl_->reports = other.impl_->reports;
}
Model& Model::operator=(const Model& other) {
  if (this != &other) *this = Model(other);
  return *this;
}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& dir_or_builtin, uint64_t seed) {
  Model m;
  m.impl_->graph = engine::load_model(dir_or_builtin, seed);
  return m;
}

std::vector<std::string> Model::builtin_names() { return loaders::builtin_names(); }

std::vector<PassReport> Model::fuse(Fuse level) {
  std::vector<PassReport> out;
  for (const passes::PassReport& r : engine::fuse(impl_->graph, to_passes(level))) {
    PassReport p{r.pass, r.changed, {}, r.replaced};
    for (const passes::Skip& s : r.skipped) p.skipped.push_back(s.node + ": " + s.reason);
    out.push_back(p);
    impl_->reports.push_back(p);
  }
  return out;
}

const std::vector<PassReport>& Model::reports() const { return impl_->reports; }

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> names;
  for (const ir::Value* v : impl_->graph.inputs()) names.push_back(v->name);
  return names;
}

std::vector<std::vector<int64_t>> Model::input_shapes() const {
  std::vector<std::vector<int64_t>> shapes;
  for (const ir::Value* v : impl_->graph.inputs()) shapes.push_back(v->shape);
  return shapes;
}

size_t Model::node_count() const { return impl_->graph.nodes().size(); }
size_t Model::op_count(const std::string& op) const { return impl_->graph.count_op(op); }
std::string Model::graph_text() const { return ir::print(impl_->graph); }
void Model::save(const std::string& dir, bool force) const {
  loaders::save_model_dir(impl_->graph, dir, force);
}

// --- Runner ------------------------------------------------------------------

struct Runner::Impl {
  std::shared_ptr<const engine::Plan> plan;  // shared by copies
  engine::Context context;                   // each copy its own

  explicit Impl(std::shared_ptr<const engine::Plan> p) : plan(std::move(p)), context(*plan) {}
};

Runner Model::compile(int64_t batch, const CompileOptions& options) const& {
  // A copy's graph shares this model's weights, so they stay here.
  return Model(*this).compile(batch, options);
}

Runner Model::compile(int64_t batch, const CompileOptions& options) && {
  std::unique_ptr<Impl> impl = std::move(impl_);
  auto plan = std::make_shared<const engine::Plan>(
      engine::compile(std::move(impl->graph), batch, to_engine(options)));
  return Runner(std::make_unique<Runner::Impl>(std::move(plan)));
}

Runner::Runner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runner::Runner(const Runner& other) : impl_(std::make_unique<Impl>(other.impl_->plan)) {}
Runner& Runner::operator=(const Runner& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(other.impl_->plan);
  return *this;
}
Runner::Runner(Runner&&) noexcept = default;
Runner& Runner::operator=(Runner&&) noexcept = default;
Runner::~Runner() = default;

int64_t Runner::batch() const { return impl_->plan->batch(); }
bool Runner::blocked_convs() const { return impl_->plan->blocked_convs(); }
std::vector<std::vector<int64_t>> Runner::input_shapes() const { return impl_->plan->input_shapes(); }
std::vector<std::vector<int64_t>> Runner::output_shapes() const { return impl_->plan->output_shapes(); }

std::vector<StepInfo> Runner::steps() const {
  std::vector<StepInfo> out;
  for (const engine::StepInfo& s : impl_->plan->steps())
    out.push_back({s.name, s.op, s.implementation, s.reason});
  return out;
}

// The inputs as they are: the run copies each in once, into its buffers.
static std::vector<engine::Context::InputRef> refs_of(const std::vector<Tensor>& tensors) {
  std::vector<engine::Context::InputRef> refs;
  for (const Tensor& t : tensors) refs.emplace_back(t.shape, t.data.data(), t.data.size());
  return refs;
}

std::vector<Tensor> Runner::run(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  run(inputs, out);
  return out;
}

void Runner::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  engine::Context& ctx = impl_->context;
  ctx.execute(refs_of(inputs));
  const std::vector<ir::Shape>& shapes = impl_->plan->output_shapes();
  outputs.resize(shapes.size());
  for (size_t o = 0; o < shapes.size(); ++o) {
    const float* y = ctx.output(o);
    outputs[o].shape = shapes[o];
    outputs[o].data.assign(y, y + ir::shape_numel(shapes[o]));  // within its capacity: no allocation
  }
}

std::vector<NodeProfile> Runner::profile(const std::vector<Tensor>& inputs, int iters) {
  std::vector<NodeProfile> out;
  for (const engine::StepProfile& p :
       engine::profile(*impl_->plan, impl_->context, refs_of(inputs), 1, iters < 1 ? 1 : iters))
    out.push_back({p.name, p.op, p.implementation, p.reason, p.median_ms, p.min_ms, p.percent,
                   p.gflops});
  return out;
}

void Runner::write_trace(const std::vector<Tensor>& inputs, const std::string& path) {
  engine::write_chrome_trace(*impl_->plan, impl_->context, refs_of(inputs), path);
}

Timing Runner::time(const std::vector<Tensor>& inputs, int warmup, int iters) {
  return time_interleaved({this}, inputs, warmup, iters).at(0);
}

std::vector<Timing> time_interleaved(const std::vector<Runner*>& runners,
                                     const std::vector<Tensor>& inputs, int warmup, int iters) {
  std::vector<engine::Context*> contexts;
  for (Runner* r : runners) contexts.push_back(&r->impl_->context);
  return engine::time_interleaved(contexts, refs_of(inputs), warmup, iters);
}

// --- Checks and threads ------------------------------------------------------

const NodeCheck* FusionCheck::first_failure() const {
  for (const NodeCheck& n : nodes) {
    if (!n.ok()) return &n;
  }
  return nullptr;
}

FusionCheck check_fusion(const Model& unfused, const Model& fused,
                         const std::vector<Tensor>& inputs, const CompileOptions& fused_options,
                         double rel_tolerance) {
  // The passes run on `fused` since it was copied: its reports past unfused's.
  const std::vector<PassReport>& all = fused.reports();
  std::vector<passes::PassReport> since;
  for (size_t i = std::min(unfused.reports().size(), all.size()); i < all.size(); ++i)
    since.push_back({all[i].pass, all[i].changed, {}, all[i].replaced});
  return engine::check_fusion(unfused.impl_->graph, fused.impl_->graph, since, to_ir(inputs),
                              rel_tolerance, to_engine(fused_options));
}

void set_threads(int threads) { engine::set_threads(threads); }
int threads() { return engine::max_threads(); }

}  // namespace kiln
