#include "ops/join_loop.h"

#include <omp.h>

#include <algorithm>
#include <array>

#include "ops/common.h"
#include "ops/loop_layout.h"

namespace kiln::ops {

using dnnl::memory;

JoinLoopKernel::JoinLoopKernel(std::vector<memory::desc> inputs, memory::desc output,
                               int64_t units, std::string name)
    : inputs_(std::move(inputs)), output_(std::move(output)), units_(units),
      name_(std::move(name)) {}

ExecArgs JoinLoopKernel::bind(const std::vector<memory>& inputs, const memory& output,
                              const memory&) const {
  ExecArgs args = {{DNNL_ARG_DST, output}};
  for (size_t k = 0; k < inputs.size(); ++k)
    args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k)] = inputs[k];
  return args;
}

void JoinLoopKernel::execute(dnnl::stream& stream, const ExecArgs& args) const {
  stream.wait();  // the steps before have written the inputs
  std::array<const float*, kMaxConcatInputs> srcs;  // on the stack: no allocation per run
  for (size_t k = 0; k < inputs_.size(); ++k)
    srcs[k] = static_cast<const float*>(
        args.at(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k)).get_data_handle());
  float* dst = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), units_));
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    run(srcs.data(), dst, units_ * t / T, units_ * (t + 1) / T);
  }
}

int join_block(const std::vector<memory::desc>& given, const std::vector<int64_t>& channels) {
  const size_t widest = static_cast<size_t>(
      std::max_element(channels.begin(), channels.end()) - channels.begin());
  const int block = loop_block_of(given.at(widest));
  const bool whole_blocks = std::all_of(channels.begin(), channels.end(),
                                        [&](int64_t c) { return block <= 1 || c % block == 0; });
  return whole_blocks ? block : -1;
}

BlockSources block_sources(const std::vector<int64_t>& channels, int block) {
  BlockSources sources;
  for (size_t k = 0; k < channels.size(); ++k) {
    for (int64_t b = 0; b < channels[k] / block; ++b) {
      sources.input.push_back(static_cast<int32_t>(k));
      sources.block_in_input.push_back(static_cast<int32_t>(b));
    }
  }
  return sources;
}

JoinGeometry join_geometry(const ir::Node& node, size_t count,
                           const std::vector<memory::desc>& given) {
  JoinGeometry g;
  const ir::Shape& y = node.output->shape;
  g.N = y[0], g.HW = y[2] * y[3];
  for (size_t k = 0; k < count; ++k) {
    g.offsets.push_back(g.C);
    g.channels.push_back(node.inputs[k]->shape[1]);
    g.C += g.channels.back();
  }
  g.block = join_block(given, g.channels);
  if (g.block >= 1) g.sources = block_sources(g.channels, g.block);
  return g;
}

std::vector<memory::desc> join_input_descs(const ir::Node& node, size_t count, int block) {
  std::vector<memory::desc> descs;
  for (size_t k = 0; k < count; ++k)
    descs.emplace_back(to_dims(node.inputs[k]->shape), memory::data_type::f32,
                       loop_layout(block).tag);
  return descs;
}

memory::desc join_output_desc(const ir::Node& node, int block) {
  return memory::desc(to_dims(node.output->shape), memory::data_type::f32, loop_layout(block).tag);
}

}  // namespace kiln::ops
