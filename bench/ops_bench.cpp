// Single ops at ResNet18's shapes (bench/op_cases.h), each a one-node graph
// compiled and run through the engine. A run is what a user of a one-op model
// sees: the input copied in, a reorder into oneDNN's blocked layout where the
// kernel wants one, the op, a reorder back, the output copied out. The
// "steps" counter says how many plan steps that took (1 = the op alone).
// The 3x3 stride-1 convs run a second time on Kiln's own Winograd kernel
// (ConvAlgo::kiln_winograd), named "<case>,kiln-winograd"; with
// ONEDNN_MAX_CPU_ISA=AVX2 the pair compares it with oneDNN's AVX2 direct kernel.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/benchmarks.h"
#include "bench/op_cases.h"
#include "engine/engine.h"
#include "ir/error.h"

namespace kiln::bench {

namespace {

int64_t tensor_bytes(const ir::Shape& shape) {
  return ir::shape_numel(shape) * static_cast<int64_t>(sizeof(float));
}

void run_op_case(benchmark::State& state, const OpCase& c, ops::ConvAlgo algo) {
  try {
    engine::Plan plan = engine::compile(op_case_graph(c, 1), c.inputs[0][0], {algo});
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

void register_case(const std::string& name, const OpCase& c, ops::ConvAlgo algo) {
  benchmark::RegisterBenchmark(name.c_str(), run_op_case, c, algo)
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

}  // namespace

void register_op_benchmarks() {
  for (int64_t n : {1, 10}) {
    for (const OpCase& c : resnet18_op_cases(n)) {
      register_case(c.name, c, ops::ConvAlgo::direct);
      if (op_case_runs_winograd(c))
        register_case(c.name + ",kiln-winograd", c, ops::ConvAlgo::kiln_winograd);
    }
  }
}

}  // namespace kiln::bench
