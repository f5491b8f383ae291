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
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;  // float32, C order, product(shape) elements
};

enum class Fuse {
  none,       // run the graph as loaded
  batchnorm,  // fold every BatchNorm into the conv2d or linear before it
  all,        // batchnorm, then the post-op fusions (conv + relu, conv + add)
};

// How the convolutions are computed; only 3x3, stride-1, ungrouped convs
// have a Winograd form, the rest always run direct.
enum class ConvAlgo {
  direct,         // oneDNN's direct convolution everywhere
  winograd,       // Winograd wherever it applies: oneDNN's kernel where the CPU
                  // has one (AVX-512), Kiln's own F(4x4, 3x3) elsewhere
  kiln_winograd,  // Kiln's own Winograd wherever it applies, even where oneDNN has one
  automatic,      // per layer, whichever measured faster for its shape on this kind of CPU
};

struct CompileOptions {
  ConvAlgo conv_algo = ConvAlgo::direct;
};

// What one graph pass did.
struct PassReport {
  std::string pass;                  // "fold_batchnorm"
  std::vector<std::string> changed;  // "layer1.0.bn1 into layer1.0.conv1"
  std::vector<std::string> skipped;  // "bn: the output of conv2d 'conv' has 2 users ..."
};

// One step of a compiled model, timed on its own.
struct NodeProfile {
  std::string name;            // node name, or "reorder <value>"
  std::string op;              // "conv2d", ..., or "reorder"
  std::string implementation;  // the kernel that runs, e.g. "brgconv:avx512_core"
  double median_ms = 0;
  double min_ms = 0;
  double percent = 0;          // share of the sum of all steps
  double gflops = 0;
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
  std::vector<std::vector<int64_t>> input_shapes() const;  // -1 marks the free batch dimension
  size_t node_count() const;
  size_t op_count(const std::string& op) const;  // e.g. op_count("batchnorm")
  std::string graph_text() const;                 // one line per node
  void save(const std::string& dir) const;        // as a model directory

  // Builds the kernels for one batch size.
  Runner compile(int64_t batch, const CompileOptions& options = {}) const;

 private:
  struct Impl;
  Model();
  std::unique_ptr<Impl> impl_;
  friend class Runner;
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

  // Inputs must have the shapes of input_shapes(); throws kiln::Error otherwise.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Times each step over `iters` runs (after one warm-up).
  std::vector<NodeProfile> profile(const std::vector<Tensor>& inputs, int iters = 10);
  // Writes a Chrome trace (chrome://tracing, Perfetto) of one run.
  void write_trace(const std::vector<Tensor>& inputs, const std::string& path);

 private:
  struct Impl;
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class Model;
};

// NPY files (NumPy's format): float32, little-endian, C order.
Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

// Threads the kernels use (OpenMP, process-wide); 0 keeps the default (all cores).
void set_threads(int threads);

}  // namespace kiln
