// The engine: load a model, run passes, compile for a batch size, run.
//
//   ir::Graph g = engine::load_model("resnet18");          // or a model directory
//   engine::fuse(g, engine::FuseLevel::batchnorm);         // optional
//   engine::Plan plan = engine::compile(g, /*batch=*/10);  // primitives built once
//   engine::Context ctx(plan);                             // buffers, built once
//   std::vector<ir::Tensor> y = ctx.run({x});
//
// Internal to the library; apps use kiln/kiln.h, which is built on this.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/conv_algo.h"
#include "ops/conv_layout.h"
#include "passes/pass.h"
#include "passes/pipeline.h"

namespace kiln::engine {

// A built-in model name, a model directory or an .onnx file (a regular file
// whose name ends in .onnx); shapes inferred and verified
// (model.cpp).
ir::Graph load_model(const std::string& name_or_dir, uint64_t seed = 0);

using passes::FuseLevel;
// Runs the passes of that level (passes/pipeline.cpp), verify() after each,
// and returns their reports.
std::vector<passes::PassReport> fuse(ir::Graph& graph, FuseLevel level);

// Choices made when compiling, that do not change the graph.
struct CompileOptions {
  ops::ConvAlgo conv_algo = ops::ConvAlgo::direct;  // the choices: ops/conv_algo.h
  ops::ConvLayout conv_layout = ops::ConvLayout::auto_;  // ops/conv_layout.h
  bool inplace_concat = true;  // false: every concat copies (engine/inplace_concat.h)
  // false: no elementwise step (activation, batchnorm, binary op) writes over
  // its input, even where the input dies there (engine/compile.cpp)
  bool inplace_elementwise = true;
};

// One step of a plan, as tools (profiles, traces, tests) see it.
struct StepInfo {
  std::string name;            // the node's name, or "reorder <value>"
  std::string op;              // the node's op, or "reorder"
  std::string implementation;  // the kernel that runs, e.g. oneDNN's "jit:avx2"
  std::string reason;          // why, where the op chose (Kernel::reason): "direct: 1x1 kernel"
  int inplace_input = -1;      // the activation input the output overwrites; -1: none
  double flops = 0;            // floating-point operations per run
};

struct PlanImpl;

// A graph compiled for one batch size: oneDNN primitives and packed weights,
// a schedule of steps and a buffer plan (compile.cpp). Immutable: many
// Contexts, on many threads, may run one Plan at once.
class Plan {
 public:
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  ~Plan();

  int64_t batch() const;
  // Shapes of the graph's inputs and outputs with the batch bound.
  const std::vector<ir::Shape>& input_shapes() const;
  const std::vector<ir::Shape>& output_shapes() const;
  size_t step_count() const;
  std::vector<StepInfo> steps() const;
  size_t activation_bytes() const;  // the buffer plan's total size
  // Whether the convs asked for the blocked layout (CompileOptions::conv_layout).
  bool blocked_convs() const;

 private:
  friend Plan compile(ir::Graph&& graph, int64_t batch, const CompileOptions& options);
  friend const PlanImpl& plan_impl(const Plan& plan);  // engine/plan_impl.h
  explicit Plan(std::unique_ptr<PlanImpl> impl);
  std::unique_ptr<PlanImpl> impl_;
};

// Binds the batch dimension and builds the plan. Throws kiln::Error naming
// the node if a kernel cannot be built.
Plan compile(const ir::Graph& graph, int64_t batch, const CompileOptions& options = {});
// The same, consuming `graph`: each weight is freed once the kernels that
// read it hold their packed copies, so the weights are never held twice over
// (unless something else shares them, e.g. a copy of the graph).
Plan compile(ir::Graph&& graph, int64_t batch, const CompileOptions& options = {});

struct ContextImpl;

// One execution's buffers and stream (run.cpp). Not shared between threads.
class Context {
 public:
  explicit Context(const Plan& plan);
  Context(Context&&) noexcept;
  ~Context();

  // Runs the plan. Inputs must match the plan's input shapes (float32, C
  // order); throws kiln::Error naming the input otherwise.
  std::vector<ir::Tensor> run(const std::vector<ir::Tensor>& inputs);

  // An input as its holder keeps it (an ir::Tensor, a kiln::Tensor), so that
  // no copy is made to pass it.
  struct InputRef {
    InputRef(const ir::Shape& shape, const float* data, size_t size)
        : shape(&shape), data(data), size(size) {}
    InputRef(const ir::Tensor& t) : InputRef(t.shape, t.data.data(), t.data.size()) {}  // NOLINT: implicit
    const ir::Shape* shape;
    const float* data;
    size_t size;  // the floats at `data`
  };
  // The same, writing into `outputs`: a tensor that already has its output's
  // shape keeps its storage, so a loop of runs allocates nothing. (An 8 MB
  // output allocated anew each run came as fresh pages each run, 2 MiB-aligned
  // buffers being mapped and unmapped by malloc: 430 page faults, a sixth of
  // the run.)
  void run(const std::vector<InputRef>& inputs, std::vector<ir::Tensor>& outputs);

  // The steps of a run, without the copies out: output(o) then points at
  // output o until the next run. If `step_times`, each step is waited for
  // and timed: when it started (ms from the first step's start) and how long
  // it took; for profiles and traces.
  struct StepTime {
    double start_ms = 0;
    double duration_ms = 0;
  };
  void execute(const std::vector<InputRef>& inputs, std::vector<StepTime>* step_times = nullptr);
  const float* output(size_t o) const;

 private:
  std::unique_ptr<ContextImpl> impl_;
};

// Compile for the first input's batch size and run once: for tests and tools.
std::vector<ir::Tensor> run_graph(const ir::Graph& graph, const std::vector<ir::Tensor>& inputs,
                                  const CompileOptions& options = {});
// The same, compiling `graph` itself (compile(ir::Graph&&)): its weights are
// freed before the run.
std::vector<ir::Tensor> run_graph(ir::Graph&& graph, const std::vector<ir::Tensor>& inputs,
                                  const CompileOptions& options = {});

// Sets how many threads oneDNN uses (OpenMP); 0 leaves the default.
void set_threads(int threads);
int max_threads();

}  // namespace kiln::engine
