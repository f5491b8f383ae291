// Loading ResNet18 from a model directory (graph.json + 102 NPY files, 47 MB).
// The files sit in the page cache after the first iteration, so this measures
// parsing and copying, not the disk. bytes_per_second counts the files' sizes.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench/benchmarks.h"
#include "engine/engine.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"

namespace kiln::bench {

namespace {

namespace fs = std::filesystem;

int64_t dir_bytes(const std::string& dir) {
  int64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += static_cast<int64_t>(entry.file_size());
  }
  return total;
}

// loaders::load_model_dir: graph.json and every NPY, no shape inference.
void bench_load_model_dir(benchmark::State& state, const std::string& dir) {
  for (auto _ : state) {
    ir::Graph g = loaders::load_model_dir(dir);
    benchmark::DoNotOptimize(g.nodes().data());
  }
  state.SetBytesProcessed(state.iterations() * dir_bytes(dir));
}

// engine::load_model: the above plus infer_shapes() and verify().
void bench_load_model(benchmark::State& state, const std::string& dir) {
  for (auto _ : state) {
    ir::Graph g = engine::load_model(dir);
    benchmark::DoNotOptimize(g.nodes().data());
  }
  state.SetBytesProcessed(state.iterations() * dir_bytes(dir));
}

// One NPY file alone.
void bench_read_npy(benchmark::State& state, const std::string& path) {
  for (auto _ : state) {
    ir::Tensor t = loaders::read_npy(path);
    benchmark::DoNotOptimize(t.data.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(fs::file_size(path)));
}

// The largest file under DIR/weights (ResNet18: a [512, 512, 3, 3] conv weight, 9.4 MB).
fs::path largest_weight_file(const std::string& dir) {
  fs::path best;
  uintmax_t best_size = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "weights")) {
    if (entry.is_regular_file() && entry.file_size() > best_size) {
      best = entry.path();
      best_size = entry.file_size();
    }
  }
  return best;
}

}  // namespace

void register_loader_benchmarks(const std::string& model_dir) {
  fs::path npy = largest_weight_file(model_dir);
  benchmark::RegisterBenchmark("load/load_model_dir,resnet18", bench_load_model_dir, model_dir)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("load/load_model,resnet18", bench_load_model, model_dir)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark(("load/read_npy," + npy.filename().string()).c_str(), bench_read_npy,
                               npy.string())
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace kiln::bench
