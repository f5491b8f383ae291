// Kiln's public C++ API: load a CNN, fold its BatchNorms, run it on the CPU.
//
//   #include <kiln/kiln.h>
//
//   kiln::Model model = kiln::Model::load("resnet18");   // or a model directory or .onnx file
//   model.fuse(kiln::Fuse::batchnorm);                   // fold BN into the convs
//   kiln::Runner runner = model.compile(/*batch=*/1);    // kernels built once
//   kiln::Tensor x{{1, 3, 224, 224}, pixels};            // float32, C order
//   std::vector<kiln::Tensor> y = runner.run({x});       // y[0].shape == {1, 1000}
//
// Errors are thrown as kiln::Error with a one-line message that names the
// file, node or field. A Runner is for one thread at a time; copies of a
// Runner share the compiled kernels and have their own buffers, so give each
// thread its own copy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/error.h"

namespace kiln {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;  // float32, C order, product(shape) elements
};

// In Model::input_shapes(): the batch dimension, free until Model::compile().
constexpr int64_t kFreeBatch = -1;
// "[N, 3, 224, 224]", as error messages write shapes (N: kFreeBatch).
std::string shape_str(const std::vector<int64_t>& shape);

enum class Fuse {
  none,       // run the graph as loaded
  batchnorm,  // fold every BatchNorm into the conv2d or linear before it
  all,        // batchnorm, then the fusions (conv + activation, conv + add, swish,
              // concat + batchnorm, channel shuffle, squeeze-excitation;
              // docs/ARCHITECTURE.md)
};

// A fuse level's names. fuse_levels() is the one table that spells them.
struct FuseNames {
  Fuse level;
  const char* name;   // "bn": engine-run's --fuse=bn, and "fuse" in its JSON
  const char* label;  // "fused (bn)": the level's row in engine-run --compare
  const char* key;    // "fused": the stem of the level's --compare JSON keys (fused_ms)
};
// Every level, in the order they build on each other: none, batchnorm, all.
const std::vector<FuseNames>& fuse_levels();
const FuseNames& fuse_names(Fuse level);
std::optional<Fuse> fuse_from_name(const std::string& name);  // "bn" -> Fuse::batchnorm

// How the convolutions are computed; only 3x3, stride-1, ungrouped convs
// have a Winograd form, the rest always run direct.
enum class ConvAlgo {
  direct,         // oneDNN's direct convolution everywhere
  winograd,       // Winograd wherever it applies: oneDNN's kernel where the CPU
                  // has one (AVX-512), Kiln's own F(4x4, 3x3) elsewhere
  kiln_winograd,  // Kiln's own Winograd wherever it applies, even where oneDNN has one
  // Named "auto" everywhere; `auto` is a C++ keyword, hence the underscore.
  auto_,          // per layer: as `tune` timed it on this CPU if it did (the cache
                  // below), else whichever measured faster for its shape on Zen 4 / 5
  tune,           // per layer, the fastest kernel as timed at compile time on the
                  // layer's shapes and the threads set now; the times are kept in
                  // conv-tune.json in $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln,
                  // else $HOME/.cache/kiln, per CPU, for `auto` to follow. A cache
                  // that cannot be read or written warns once on stderr, never throws
};

// The names engine-run's --conv-algo takes: "direct", "winograd",
// "kiln-winograd", "auto", "tune"; conv_algo_names() lists them for messages.
const char* conv_algo_name(ConvAlgo algo);
std::optional<ConvAlgo> conv_algo_from_name(const std::string& name);
std::string conv_algo_names();  // "direct, winograd, kiln-winograd, auto or tune"

// The activation layout convolutions ask for. oneDNN picks nhwc for them on
// AVX-512 and nChw8c on AVX2; on AVX-512 its nChw16c kernels for 1x1 and
// depthwise convs are faster on batches of several images.
enum class ConvLayout {
  // Named "auto" everywhere; `auto` is a C++ keyword, hence the underscore.
  auto_,    // nChw16c on AVX-512 from a batch of 6 where 1x1 and grouped convs
            // hold at least half the conv multiply-adds and no node shuffles
            // channels; else as oneDNN picks
  any,      // as oneDNN picks
  blocked,  // nChw16c on AVX-512, nChw8c on AVX2 (as oneDNN picks without AVX2)
};

// The names engine-run's --conv-layout takes: "auto", "any", "blocked".
const char* conv_layout_name(ConvLayout layout);
std::optional<ConvLayout> conv_layout_from_name(const std::string& name);
std::string conv_layout_names();  // "auto, any or blocked"

struct CompileOptions {
  ConvAlgo conv_algo = ConvAlgo::direct;
  ConvLayout conv_layout = ConvLayout::auto_;
};

// What one graph pass did.
struct PassReport {
  std::string pass;                  // "fold_batchnorm"
  std::vector<std::string> changed;  // "layer1.0.bn1 into layer1.0.conv1"
  std::vector<std::string> skipped;  // "bn: the output of conv2d 'conv' has 2 users ..."
  // {before, after}: the value the graph computed as `before` is now
  // computed as `after` ({"bn1", "conv1"} when bn1 folds into conv1).
  std::vector<std::pair<std::string, std::string>> replaced;
};

// One step of a compiled model: a node, or a reorder between two layouts.
struct StepInfo {
  std::string name;            // node name, or "reorder <value>"
  std::string op;              // "conv2d", ..., or "reorder"
  std::string implementation;  // the kernel that runs, e.g. "brgconv:avx512_core"
  // Why that kernel, where the op had a choice: a convolution's algorithm and
  // its reason, e.g. "kiln winograd: 3x3 stride 1" or "direct: 1x1 kernel";
  // empty for other steps.
  std::string reason;
};

// Whole runs timed: medians and minima over several runs, never one sample.
struct Timing {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int runs = 0;
};

// One step of a compiled model, timed on its own.
struct NodeProfile {
  std::string name;            // node name, or "reorder <value>"
  std::string op;              // "conv2d", ..., or "reorder"
  std::string implementation;  // the kernel that runs, e.g. "brgconv:avx512_core"
  std::string reason;          // as StepInfo::reason
  double median_ms = 0;
  double min_ms = 0;
  double percent = 0;          // share of the sum of all steps
  double gflops = 0;
};

// One node of a fused model checked against its unfused counterpart.
struct NodeCheck {
  std::string node;       // the node in the fused model
  std::string reference;  // the unfused value it stands for (itself, or e.g. bn1 for conv1)
  double max_abs_diff = 0;
  double max_abs_reference = 0;
  double tolerance = 0;   // rel_tolerance * max_abs_reference, at least a tiny absolute floor
  bool ok() const { return max_abs_diff <= tolerance; }
};

struct FusionCheck {
  std::vector<NodeCheck> nodes;  // in the fused model's order
  const NodeCheck* first_failure() const;  // nullptr if every node is within its tolerance
};

class Runner;

class Model {
 public:
  // A model directory (graph.json + weights/), an .onnx file (a regular file
  // whose name ends in .onnx; opsets 11 to 17, see docs/ONNX.md) or a
  // built-in name ("resnet18", "tutorial"); `seed` seeds a built-in's weights.
  static Model load(const std::string& dir_or_builtin, uint64_t seed = 0);
  static std::vector<std::string> builtin_names();

  Model(const Model& other);  // a deep copy: fuse one, keep the other
  Model& operator=(const Model& other);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // Runs the passes of `level` (the graph is verified after each); returns
  // what they did. Reports accumulate in reports().
  std::vector<PassReport> fuse(Fuse level);
  const std::vector<PassReport>& reports() const;

  std::vector<std::string> input_names() const;
  std::vector<std::vector<int64_t>> input_shapes() const;  // dim 0 may be kFreeBatch
  size_t node_count() const;
  size_t op_count(const std::string& op) const;  // e.g. op_count("batchnorm")
  std::string graph_text() const;                 // one line per node
  // Writes a model directory beside DIR, then replaces DIR with it whole; on
  // any failure DIR is left as it was. A DIR that is neither missing, empty,
  // nor a Kiln model directory is refused unless `force` (engine-run --force).
  void save(const std::string& dir, bool force = false) const;

  // Builds the kernels for one batch size.
  Runner compile(int64_t batch, const CompileOptions& options = {}) const&;
  // The same for a model needed no more, std::move(model).compile(batch): each
  // weight is freed as soon as its kernels hold their packed copy, so memory
  // holds the weights once at most, not twice (unless a copy of the model
  // shares them). The model is left as after a move, also when this throws:
  // assign to it or destroy it.
  Runner compile(int64_t batch, const CompileOptions& options = {}) &&;

 private:
  struct Impl;
  Model();
  std::unique_ptr<Impl> impl_;
  friend class Runner;
  friend FusionCheck check_fusion(const Model&, const Model&, const std::vector<Tensor>&,
                                  const CompileOptions&, double);
};

class Runner {
 public:
  Runner(const Runner& other);  // shares the kernels, new buffers
  Runner& operator=(const Runner& other);
  Runner(Runner&&) noexcept;
  Runner& operator=(Runner&&) noexcept;
  ~Runner();

  int64_t batch() const;
  std::vector<std::vector<int64_t>> input_shapes() const;
  std::vector<std::vector<int64_t>> output_shapes() const;

  std::vector<StepInfo> steps() const;  // what each run executes, in order
  // Whether the convs asked for the blocked layout (CompileOptions::conv_layout):
  // nChw16c on AVX-512, nChw8c on AVX2.
  bool blocked_convs() const;

  // Inputs must have the shapes of input_shapes(); throws kiln::Error otherwise.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // The same, into `outputs`, whose storage is reused: a loop of runs into
  // the same outputs allocates no output storage. (run(inputs) allocates
  // each output anew; a large one may then come as fresh pages from the
  // kernel, a page fault per 4 KiB, each run.)
  void run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);
  // Runs `warmup` times untimed, then `iters` times timed.
  Timing time(const std::vector<Tensor>& inputs, int warmup, int iters);
  // Times each step over `iters` runs (after one warm-up).
  std::vector<NodeProfile> profile(const std::vector<Tensor>& inputs, int iters = 10);
  // Writes a Chrome trace (chrome://tracing, Perfetto) of one run.
  void write_trace(const std::vector<Tensor>& inputs, const std::string& path);

 private:
  struct Impl;
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Model;
  friend std::vector<Timing> time_interleaved(const std::vector<Runner*>& runners,
                                              const std::vector<Tensor>& inputs, int warmup,
                                              int iters);
};

// Times several runners (e.g. one model at each fuse level) on the same
// inputs, interleaving their runs (A B C A B C ...) so that drift in the
// machine's speed hits all alike. One Timing per runner, in order.
std::vector<Timing> time_interleaved(const std::vector<Runner*>& runners,
                                     const std::vector<Tensor>& inputs, int warmup, int iters);

// Checks `fused`, a copy of `unfused` fused since, node by node, so a wrong
// fusion is caught at the node where it goes wrong: runs both on `inputs`
// keeping every node's output and compares each fused node with the unfused
// value of the same name, or the one the passes run since the copy replaced.
// `fused` is compiled with `fused_options`, `unfused` with the defaults.
FusionCheck check_fusion(const Model& unfused, const Model& fused,
                         const std::vector<Tensor>& inputs,
                         const CompileOptions& fused_options = {}, double rel_tolerance = 1e-4);

// Inputs of the given shapes, uniform in [-1, 1), from Kiln's seeded
// generator: one stream across the shapes in order, the same on every machine.
std::vector<Tensor> random_inputs(const std::vector<std::vector<int64_t>>& shapes, uint64_t seed);

// NPY files (NumPy's format): float32, little-endian, C order.
Tensor read_npy(const std::string& path);
// write_npy replaces `path` whole: a failed write leaves the old file as it was.
void write_npy(const std::string& path, const Tensor& tensor);

// Threads the kernels use (OpenMP, process-wide); 0 keeps the default (all cores).
void set_threads(int threads);
int threads();  // how many they use now

}  // namespace kiln
