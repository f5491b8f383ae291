// The fuzz targets' bodies, shared by the libFuzzer entry points
// (tests/fuzz/*_fuzz.cpp) and by tests/reliability/fuzz_corpus_test.cpp,
// which replays the seed corpora and every saved finding in the normal
// (and the sanitizer) test build.
//
// The contract each checks: an input either goes through or is refused with
// kiln::Error. Anything else escaping (another exception type, e.g. a
// std::logic_error for a broken invariant below), a crash or a sanitizer
// report is a bug.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"
#include "loaders/onnx/onnx.h"
#include "ops/registry.h"

namespace kiln::fuzz {

inline void expect(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("fuzz contract broken: ") + what);
}

// NPY bytes -> parse_npy. What parses has as many elements as its shape says
// and writes back (format_npy) to bytes that parse to the same tensor.
inline void npy_target(const std::string& bytes) {
  ir::Tensor t;
  try {
    t = loaders::parse_npy(bytes, "fuzz.npy");
  } catch (const Error&) {
    return;
  }
  expect(ir::shape_numel(t.shape) == t.numel(), "parsed tensor has as many elements as its shape");
  ir::Tensor back = loaders::parse_npy(loaders::format_npy(t), "roundtrip.npy");
  expect(back.shape == t.shape && back.data.size() == t.data.size(), "round trip keeps the shape");
  expect(t.data.empty() ||
             std::memcmp(back.data.data(), t.data.data(), t.data.size() * sizeof(float)) == 0,
         "round trip keeps the bits");
}

// A model directory whose weights/ holds the built-in tutorial model's NPY
// files, so that a fuzzed graph.json can name real weight files
// ("weights/conv1.weight.npy") as well as inline data, and weights.bin
// (1024 float32s) for the external data of a fuzzed .onnx file. Made once
// per process, removed at exit.
inline const std::string& weights_dir() {
  // Never destroyed: the exit handler that removes the directory runs after
  // the destructors of statics made before it was registered.
  static const std::string* dir = [] {
    namespace fs = std::filesystem;
    fs::path d = fs::temp_directory_path() / ("kiln-fuzz-" + std::to_string(getpid()));
    fs::remove_all(d);
    loaders::save_model_dir(loaders::builtin_model("tutorial"), d.string());
    fs::remove(d / "graph.json");  // the fuzz input is graph.json's text
    std::vector<float> floats(1024);
    for (size_t i = 0; i < floats.size(); ++i) floats[i] = static_cast<float>(i % 13) * 0.125f - 0.75f;
    std::ofstream(d / "weights.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(floats.data()), static_cast<std::streamsize>(floats.size() * 4));
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return new std::string(d.string());
  }();
  return *dir;
}

// graph.json text -> parse_graph_json. A graph that loads has outputs and prints.
inline void graph_json_target(const std::string& text) {
  try {
    ir::Graph graph = loaders::parse_graph_json(text, weights_dir());
    expect(!graph.outputs().empty(), "a loaded graph has outputs");
    ir::print(graph);
  } catch (const Error&) {
  }
}

// Limits for model_target's compile-and-run step: a few nodes, small tensors,
// so oneDNN is never asked for much memory or time.
constexpr size_t kMaxRunNodes = 32;
constexpr int64_t kMaxRunElements = int64_t(1) << 14;  // per value, at batch 1

inline bool small_enough(const ir::Graph& g) {
  if (g.nodes().size() > kMaxRunNodes) return false;
  auto small = [](const ir::Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
      int64_t dim = d == ir::kBatch ? 1 : d;
      if (dim > kMaxRunElements) return false;
      n *= dim;
      if (n > kMaxRunElements) return false;
    }
    return true;
  };
  for (const ir::Value* v : g.inputs()) {
    if (!small(v->shape)) return false;
  }
  for (const auto& node : g.nodes()) {
    if (!small(node->output->shape)) return false;
    for (const ir::Value* in : node->inputs) {
      if (!small(in->shape)) return false;
    }
  }
  return true;
}

// Compiles at batch 1 (or at the inputs' fixed batch) and runs once.
inline void compile_and_run(const ir::Graph& g) {
  int64_t batch = 1;
  for (const ir::Value* in : g.inputs()) {
    if (!in->shape.empty() && in->shape[0] != ir::kBatch) batch = in->shape[0];
  }
  engine::Plan plan = engine::compile(g, batch);
  std::vector<ir::Tensor> inputs;
  for (const ir::Shape& shape : plan.input_shapes()) {
    ir::Tensor t(shape);
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(i % 7) * 0.25f - 0.5f;
    inputs.push_back(std::move(t));
  }
  engine::Context ctx(plan);
  std::vector<ir::Tensor> outputs = ctx.run(inputs);
  expect(outputs.size() == plan.output_shapes().size(), "a run returns every output");
  for (size_t i = 0; i < outputs.size(); ++i)
    expect(outputs[i].shape == plan.output_shapes()[i], "outputs have the plan's shapes");
}

// A loaded graph through the front of the engine, as engine-run takes a
// model: verify, fold_batchnorm and the post-op fusions (--fuse=all), verify
// after each; then, for small graphs, compile unfused and fused and run once.
inline void check_graph(ir::Graph& graph) {
  const ir::OpTable& ops = ops::registry().schemas();
  ir::verify(graph, ops);
  expect(!graph.outputs().empty(), "a loaded graph has outputs");
  ir::Graph fused = graph.clone();
  engine::fuse(fused, engine::FuseLevel::all);  // fold_batchnorm, the post-op fusions, verify after each
  if (small_enough(graph)) {
    compile_and_run(graph);
    compile_and_run(fused);
  }
}

// graph.json text -> load -> infer_shapes -> check_graph.
inline void model_target(const std::string& text) {
  try {
    ir::Graph graph = loaders::parse_graph_json(text, weights_dir());
    ir::infer_shapes(graph, ops::registry().schemas());
    check_graph(graph);
  } catch (const Error&) {
  }
}

// .onnx bytes -> parse_onnx (external data from weights_dir()) -> check_graph.
inline void onnx_target(const std::string& bytes) {
  try {
    ir::Graph graph = loaders::parse_onnx(bytes, weights_dir(), "fuzz.onnx", ops::registry().schemas());
    check_graph(graph);
  } catch (const Error&) {
  }
}

}  // namespace kiln::fuzz
