// kiln_bench: Google Benchmark microbenchmarks for single ops, passes, loaders
// and plan compilation. Standard Google Benchmark flags apply, e.g.
//   kiln_bench --benchmark_filter='conv2d/N=1,' --benchmark_min_time=0.2
// oneDNN's thread count follows OMP_NUM_THREADS (default: all cores).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

#include "bench/benchmarks.h"
#include "ir/error.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"

namespace fs = std::filesystem;

// ResNet18 saved as a model directory for the loader benchmarks, removed on exit.
class SavedResnet18 {
 public:
  SavedResnet18() {
    dir_ = fs::temp_directory_path() / ("kiln-bench-resnet18-" + std::to_string(::getpid()));
    kiln::loaders::save_model_dir(kiln::loaders::builtin_model("resnet18"), dir_.string());
  }
  ~SavedResnet18() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
};

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  try {
    SavedResnet18 saved;
    kiln::bench::register_op_benchmarks();
    kiln::bench::register_pass_benchmarks();
    kiln::bench::register_loader_benchmarks(saved.dir());
    kiln::bench::register_compile_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
