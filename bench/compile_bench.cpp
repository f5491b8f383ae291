// engine::compile() on ResNet18: oneDNN primitive descriptors, weight
// reorders into the primitives' layouts, the buffer plan. oneDNN caches
// primitives, so after the first iteration a compile hits its cache
// ("cache=on", what a process compiling a second batch size sees);
// "cache=off" sets the cache's capacity to 0 and times a compile from scratch.
// context/... times engine::Context: allocating and binding the buffers.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "bench/benchmarks.h"
#include "engine/engine.h"

namespace kiln::bench {

namespace {

ir::Graph resnet18_at(engine::FuseLevel level) {
  ir::Graph g = engine::load_model("resnet18");
  engine::fuse(g, level);
  return g;
}

void bench_compile(benchmark::State& state, engine::FuseLevel level, int64_t batch, bool cache) {
  ir::Graph g = resnet18_at(level);
  int old_capacity = dnnl::get_primitive_cache_capacity();
  if (!cache) dnnl::set_primitive_cache_capacity(0);
  for (auto _ : state) {
    engine::Plan plan = engine::compile(g, batch);
    benchmark::DoNotOptimize(plan.step_count());
  }
  dnnl::set_primitive_cache_capacity(old_capacity);
}

void bench_context(benchmark::State& state, int64_t batch) {
  engine::Plan plan = engine::compile(resnet18_at(engine::FuseLevel::batchnorm), batch);
  for (auto _ : state) {
    engine::Context ctx(plan);
    benchmark::DoNotOptimize(&ctx);
  }
  state.counters["activation_MB"] = static_cast<double>(plan.activation_bytes()) / 1e6;
}

}  // namespace

void register_compile_benchmarks() {
  struct Level {
    const char* name;
    engine::FuseLevel level;
  };
  const Level levels[] = {{"none", engine::FuseLevel::none},
                          {"bn", engine::FuseLevel::batchnorm},
                          {"all", engine::FuseLevel::all}};
  for (int64_t batch : {1, 10}) {
    for (bool cache : {true, false}) {
      for (const Level& l : levels) {
        std::string name = "compile/resnet18,fuse=" + std::string(l.name) +
                           ",N=" + std::to_string(batch) + ",cache=" + (cache ? "on" : "off");
        benchmark::RegisterBenchmark(name.c_str(), bench_compile, l.level, batch, cache)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    benchmark::RegisterBenchmark(("context/resnet18,fuse=bn,N=" + std::to_string(batch)).c_str(),
                                 bench_context, batch)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
}

}  // namespace kiln::bench
