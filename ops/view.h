// Kernels that look at a buffer through another memory desc: the same bytes
// under other dimensions or strides. Shared by the ops that move data
// (flatten, reshape, permute, slice) and by those whose oneDNN primitive
// wants other dimensions than the node's (linear on rank > 2, layer_norm,
// mean without keepdim). Not an op itself.
#pragma once

#include <memory>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"

namespace kiln::ops {

// One oneDNN reorder from `from` (a desc over the input buffer: x's layout,
// or a sub-memory of it) to `to` (a desc over the output buffer: the output
// in C order seen with x's dims, say). When `from` and `to` describe the same
// bytes and `may_alias` (x dies at this node), nothing is copied: the output
// takes x's buffer (inplace_input() = 0) and execute() does nothing.
class CopyKernel : public Kernel {
 public:
  CopyKernel(const dnnl::memory::desc& input, const dnnl::memory::desc& from,
             const dnnl::memory::desc& to, const dnnl::memory::desc& output,
             const dnnl::engine& engine, bool may_alias);

  dnnl::memory::desc input_desc(size_t) const override { return input_; }
  dnnl::memory::desc output_desc() const override { return output_; }
  dnnl::memory::desc scratchpad_desc() const override { return scratchpad_; }
  int inplace_input() const override { return alias_ ? 0 : -1; }
  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override;
  void execute(dnnl::stream& stream, const ExecArgs& args) const override;
  std::string implementation() const override;

 private:
  dnnl::memory::desc input_, from_, to_, output_, scratchpad_;
  dnnl::engine engine_;
  bool alias_;
  dnnl::reorder reorder_;
};

// A step with nothing left to do: the buffer planner placed its inputs where
// its output wants them (an in-place concat, whose inputs their producers
// wrote straight into their slices of the output).
class InPlaceKernel : public Kernel {
 public:
  InPlaceKernel(std::vector<dnnl::memory::desc> inputs, const dnnl::memory::desc& output)
      : inputs_(std::move(inputs)), output_(output) {}

  dnnl::memory::desc input_desc(size_t i) const override { return inputs_.at(i); }
  dnnl::memory::desc output_desc() const override { return output_; }
  ExecArgs bind(const std::vector<dnnl::memory>&, const dnnl::memory&,
                const dnnl::memory&) const override {
    return {};
  }
  void execute(dnnl::stream&, const ExecArgs&) const override {}
  std::string implementation() const override { return "in place"; }

 private:
  std::vector<dnnl::memory::desc> inputs_;
  dnnl::memory::desc output_;
};

// True when the node is the last reader of activation input `i`, so a
// kernel may overwrite it (CompileContext::last_use).
inline bool dies_here(const CompileContext& ctx, size_t i) {
  return i < ctx.last_use.size() && ctx.last_use[i];
}

// The node's x, in whatever layout it arrives in, written in C order under
// shape `y` (flatten, reshape): a CopyKernel into the output seen as plain x.
std::unique_ptr<Kernel> compile_c_order_copy(const ir::Node& node, const CompileContext& ctx,
                                             const ir::Shape& y);

// A kernel built on other descs than the node's tensors have: `inner` reads
// input i through inner->input_desc(i) and writes inner->output_desc(), each
// describing the same bytes as inputs[i] / `output` here (e.g. x [N, L, K]
// seen as [N*L, K] by an inner product).
class ReshapedKernel : public Kernel {
 public:
  ReshapedKernel(std::unique_ptr<Kernel> inner, std::vector<dnnl::memory::desc> inputs,
                 const dnnl::memory::desc& output, const dnnl::engine& engine);

  dnnl::memory::desc input_desc(size_t i) const override { return inputs_.at(i); }
  dnnl::memory::desc output_desc() const override { return output_; }
  dnnl::memory::desc scratchpad_desc() const override { return inner_->scratchpad_desc(); }
  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override;
  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    inner_->execute(stream, args);
  }
  std::string implementation() const override { return inner_->implementation(); }

 private:
  std::unique_ptr<Kernel> inner_;
  std::vector<dnnl::memory::desc> inputs_;
  dnnl::memory::desc output_;
  dnnl::engine engine_;
};

}  // namespace kiln::ops
