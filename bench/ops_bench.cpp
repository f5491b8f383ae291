// Single ops at ResNet18's shapes (bench/op_cases.h), each a one-node graph
// compiled and run through the engine. A run is what a user of a one-op model
// sees: the input copied in, a reorder into oneDNN's blocked layout where the
// kernel wants one, the op, a reorder back, the output copied out. The
// "steps" counter says how many plan steps that took (1 = the op alone).
#include <benchmark/benchmark.h>

#include "bench/benchmarks.h"
#include "bench/op_cases.h"
#include "engine/engine.h"
#include "ir/error.h"

namespace kiln::bench {

namespace {

int64_t tensor_bytes(const ir::Shape& shape) {
  return ir::shape_numel(shape) * static_cast<int64_t>(sizeof(float));
}

void run_op_case(benchmark::State& state, const OpCase& c) {
  try {
    engine::Plan plan = engine::compile(op_case_graph(c, 1), c.inputs[0][0]);
    engine::Context ctx(plan);
    std::vector<ir::Tensor> inputs = op_case_inputs(c, 2);
    for (auto _ : state) {
      std::vector<ir::Tensor> out = ctx.run(inputs);
      benchmark::DoNotOptimize(out.data());
    }
    // Activations read and written, parameters not counted.
    int64_t bytes = tensor_bytes(plan.output_shapes()[0]);
    for (const ir::Shape& shape : c.inputs) bytes += tensor_bytes(shape);
    state.SetBytesProcessed(state.iterations() * bytes);
    if (c.flops > 0) {
      state.counters["FLOP/s"] = benchmark::Counter(static_cast<double>(c.flops),
                                                    benchmark::Counter::kIsIterationInvariantRate,
                                                    benchmark::Counter::kIs1000);
    }
    state.counters["steps"] = static_cast<double>(plan.step_count());
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace

void register_op_benchmarks() {
  for (int64_t n : {1, 10}) {
    for (const OpCase& c : resnet18_op_cases(n)) {
      benchmark::RegisterBenchmark(c.name.c_str(), run_op_case, c)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
}

}  // namespace kiln::bench
