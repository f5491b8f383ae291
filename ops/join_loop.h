// JoinLoopKernel: the plumbing of Kiln's loops that read one or more
// activations into one output (concat, concat_batchnorm, channel_shuffle):
// the inputs bound as DNNL_ARG_MULTIPLE_SRC + k, and the work units split in
// equal contiguous shares over the threads, so each thread writes one
// stretch of the output. And the layout such a loop runs in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/kernel.h"
#include "ops/loop_layout.h"

namespace kiln::ops {

class JoinLoopKernel : public Kernel {
 public:
  // `units` work units of `run` cover the output; `name` is the implementation.
  JoinLoopKernel(std::vector<dnnl::memory::desc> inputs, dnnl::memory::desc output,
                 int64_t units, std::string name);

  dnnl::memory::desc input_desc(size_t i) const override { return inputs_.at(i); }
  dnnl::memory::desc output_desc() const override { return output_; }
  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override;
  void execute(dnnl::stream& stream, const ExecArgs& args) const override;
  std::string implementation() const override { return name_; }

 protected:
  // Writes work units [begin, end) of dst from srcs (one per input).
  virtual void run(const float* const* srcs, float* dst, int64_t begin, int64_t end) const = 0;

 private:
  std::vector<dnnl::memory::desc> inputs_;
  dnnl::memory::desc output_;
  int64_t units_;
  std::string name_;
};

// A JoinLoopKernel running fn(geometry, srcs, dst, begin, end): the loop's
// fixed sizes and tables in `Geometry`, its code in `fn`.
template <class Geometry>
class JoinLoopOf : public JoinLoopKernel {
 public:
  using Fn = void (*)(const Geometry&, const float* const*, float*, int64_t, int64_t);
  JoinLoopOf(Geometry g, Fn fn, std::vector<dnnl::memory::desc> inputs,
             dnnl::memory::desc output, int64_t units, std::string name)
      : JoinLoopKernel(std::move(inputs), std::move(output), units, std::move(name)),
        g_(std::move(g)),
        fn_(fn) {}

 protected:
  void run(const float* const* srcs, float* dst, int64_t begin, int64_t end) const override {
    fn_(g_, srcs, dst, begin, end);
  }

 private:
  Geometry g_;
  Fn fn_;
};

// The layout a loop joining inputs along channels reads and writes
// (ops/loop_layout.h): the one the input with the most channels arrives in
// (`given`, one per input), when it is nhwc, nchw, or nChw8c / nChw16c with
// every input's channel count (`channels`) a multiple of the block, so that
// no input block straddles two of the output's; -1 otherwise.
int join_block(const std::vector<dnnl::memory::desc>& given, const std::vector<int64_t>& channels);

// For a join in blocks of `block` channels (a divisor of every input's
// count): per output block, the input it comes from and that input's block.
struct BlockSources {
  std::vector<int32_t> input, block_in_input;
};
BlockSources block_sources(const std::vector<int64_t>& channels, int block);

// A channel join of a node's first `count` inputs (rank 4), arriving in
// `given`: its sizes, where each input starts in the output, the layout
// join_block picks (-1 where it picks none; then the caller sets one), and
// in blocked layouts where each output block comes from.
struct JoinGeometry {
  int64_t N = 0, HW = 0, C = 0;
  int block = kChannelsLast;
  std::vector<int64_t> channels, offsets;  // C_k, and o_k = C_0 + ... + C_{k-1}
  BlockSources sources;                    // blocked layouts (block >= 1) only
  // Work units: pixels (n, h, w) in nhwc, output channel blocks (n, block) otherwise.
  int64_t units() const { return block == kChannelsLast ? N * HW : N * (C / block); }
};
JoinGeometry join_geometry(const ir::Node& node, size_t count,
                           const std::vector<dnnl::memory::desc>& given);

// The descs of a node's first `count` inputs, and of its output, in the layout `block`.
std::vector<dnnl::memory::desc> join_input_descs(const ir::Node& node, size_t count, int block);
dnnl::memory::desc join_output_desc(const ir::Node& node, int block);

}  // namespace kiln::ops
