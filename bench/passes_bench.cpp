// The BatchNorm fold on ResNet18: the pass alone, and engine::fuse() at each
// level (the passes plus ir::verify() after each). Every iteration starts from
// a fresh clone of the unfused graph; the clone is not timed.
#include <benchmark/benchmark.h>

#include "bench/benchmarks.h"
#include "engine/engine.h"
#include "passes/fold_batchnorm.h"

namespace kiln::bench {

namespace {

void bench_fold_batchnorm(benchmark::State& state) {
  ir::Graph unfused = engine::load_model("resnet18");
  for (auto _ : state) {
    state.PauseTiming();
    ir::Graph g = unfused.clone();
    state.ResumeTiming();
    passes::PassReport report = passes::fold_batchnorm(g);
    benchmark::DoNotOptimize(report.changed.data());
  }
  ir::Graph g = unfused.clone();
  state.counters["folded"] = static_cast<double>(passes::fold_batchnorm(g).changed.size());
}

void bench_fuse(benchmark::State& state, engine::FuseLevel level) {
  ir::Graph unfused = engine::load_model("resnet18");
  for (auto _ : state) {
    state.PauseTiming();
    ir::Graph g = unfused.clone();
    state.ResumeTiming();
    std::vector<passes::PassReport> reports = engine::fuse(g, level);
    benchmark::DoNotOptimize(reports.data());
  }
}

}  // namespace

void register_pass_benchmarks() {
  benchmark::RegisterBenchmark("fold_batchnorm/resnet18", bench_fold_batchnorm)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("fuse/resnet18,level=bn", bench_fuse, engine::FuseLevel::batchnorm)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("fuse/resnet18,level=all", bench_fuse, engine::FuseLevel::all)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace kiln::bench
