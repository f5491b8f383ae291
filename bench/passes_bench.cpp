// The BatchNorm fold on ResNet18: the pass alone, and engine::fuse() at each
// level (the passes plus ir::verify() after each). Every iteration starts from
// a fresh clone of the unfused graph; the clone is not timed.
#include <benchmark/benchmark.h>

#include "bench/benchmarks.h"
#include "engine/engine.h"
#include "passes/fold_batchnorm.h"

namespace kiln::bench {

namespace {

// A model as loaded: the graph owns its weights, so the fold rescales them in place.
void bench_fold_batchnorm(benchmark::State& state) {
  size_t folded = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ir::Graph g = engine::load_model("resnet18");
    state.ResumeTiming();
    passes::PassReport report = passes::fold_batchnorm(g);
    folded = report.changed.size();
    benchmark::DoNotOptimize(report.changed.data());
    state.PauseTiming();  // the graph's destruction is not the fold's
    g = ir::Graph();
    state.ResumeTiming();
  }
  state.counters["folded"] = static_cast<double>(folded);
}

// A clone sharing its weights with the original (as --compare does): the
// fold writes new weight tensors.
void bench_fold_batchnorm_shared(benchmark::State& state) {
  ir::Graph unfused = engine::load_model("resnet18");
  for (auto _ : state) {
    state.PauseTiming();
    ir::Graph g = unfused.clone();
    state.ResumeTiming();
    passes::PassReport report = passes::fold_batchnorm(g);
    benchmark::DoNotOptimize(report.changed.data());
  }
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
  benchmark::RegisterBenchmark("fold_batchnorm/resnet18,shared_weights", bench_fold_batchnorm_shared)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("fuse/resnet18,level=bn", bench_fuse, engine::FuseLevel::batchnorm)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("fuse/resnet18,level=all", bench_fuse, engine::FuseLevel::all)
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace kiln::bench
