// Kernel: a node compiled for fixed input shapes and layouts.
//
// An op's compile() builds its oneDNN primitive once, reorders its weights
// into the layout the primitive prefers once, and returns a Kernel. The engine
// then binds the kernel to buffers once per execution context and runs it
// with no allocation and no graph walking. A Kernel is immutable after
// compile, so one plan can run on several threads, each with its own context.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/conv_algo.h"

namespace kiln::ops {

// The arguments of one execution, keyed by DNNL_ARG_*; built once per context.
using ExecArgs = std::unordered_map<int, dnnl::memory>;

// A kernel's constant arguments (packed weights, bias, ...) and the buffers
// they live in: a dnnl::memory made on a caller's buffer does not own it.
struct Constants {
  Constants(ExecArgs args = {}) : args(std::move(args)) {}  // implicit: ExecArgs{} converts
  ExecArgs args;
  std::vector<std::shared_ptr<void>> storage;
};

// What an op's compile() is given besides the node.
struct CompileContext {
  dnnl::engine engine;
  // For each activation input (the node's inputs that are not parameters, in
  // order): the layout its producer writes. An op may ask for another layout
  // through Kernel::input_desc(); the engine then inserts a reorder.
  std::vector<dnnl::memory::desc> input_descs;
  // For each activation input: true when this node is its last reader (no
  // later node reads it and it is not a graph output), so the kernel may
  // overwrite it in place (Kernel::inplace_input). Empty: assume it is read later.
  std::vector<bool> last_use;
  // Which convolution algorithm conv2d and conv2d_add use (ops/conv_choice.h).
  ConvAlgo conv_algo = ConvAlgo::direct;
  // The conv layers timed on this CPU, by conv_signature() (ops/conv_tune.h):
  // `auto` follows them where they have the layer; `tune` reuses a layer
  // timed earlier in the same compile and adds those it times. Null: none.
  ConvTunings* conv_tunings = nullptr;
  // Whether conv2d and conv2d_add ask for blocked_conv_tag() src and dst
  // instead of format_tag::any (ops/conv_layout.h).
  bool blocked_convs = false;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // The layout the kernel reads activation input i in.
  virtual dnnl::memory::desc input_desc(size_t i) const = 0;
  virtual dnnl::memory::desc output_desc() const = 0;
  // Scratch memory the kernel needs while it runs (zero-sized if none).
  virtual dnnl::memory::desc scratchpad_desc() const { return {}; }
  // Index of the activation input whose buffer the output overwrites in place
  // (-1: none). The engine gives the output that input's buffer.
  virtual int inplace_input() const { return -1; }
  // Whether the kernel computes the same when its output shares activation
  // input i's buffer (an elementwise step: each output element reads only
  // the input element at its place). The engine then lets it overwrite the
  // input where nothing reads that input afterwards (engine/compile.cpp).
  virtual bool can_overwrite_input(size_t i) const {
    (void)i;
    return false;
  }
  // Builds the argument map for these buffers; called once per context.
  virtual ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                        const dnnl::memory& scratchpad) const = 0;
  virtual void execute(dnnl::stream& stream, const ExecArgs& args) const = 0;
  // The implementation that runs, for profiles (oneDNN's name, e.g. "jit:avx2").
  virtual std::string implementation() const { return "kiln"; }
  // The same kernel writing its output under `output` instead (same dims,
  // other strides: its slice of an in-place concat's output), running the
  // same implementation; null when it cannot.
  virtual std::unique_ptr<Kernel> writing_to(const dnnl::memory::desc& output) const {
    (void)output;
    return nullptr;
  }

  // Why the op built this kernel where it had a choice (a conv's algorithm,
  // ops/conv_choice.h: "direct: 1x1 kernel"); empty where it had none. For
  // profiles and engine-run -v; set by compile().
  const std::string& reason() const { return reason_; }
  void set_reason(std::string reason) { reason_ = std::move(reason); }

 private:
  std::string reason_;
};

// oneDNN's name for the implementation a primitive runs (e.g. "jit:avx2").
inline std::string primitive_implementation(const dnnl::primitive& primitive) {
  const char* info = nullptr;
  if (dnnl_primitive_desc_query(primitive.get_primitive_desc(), dnnl_query_impl_info_str, 0,
                                &info) == dnnl_success && info)
    return info;
  return "oneDNN";
}

// The common case: one oneDNN primitive, activations bound to given DNNL_ARG
// ids, constant arguments (packed weights, bias) owned by the kernel.
class PrimitiveKernel : public Kernel {
 public:
  struct Input {
    int arg;                  // DNNL_ARG_SRC, DNNL_ARG_SRC_1, ...
    dnnl::memory::desc desc;  // the layout the primitive reads
  };

  PrimitiveKernel(dnnl::primitive primitive, std::vector<Input> inputs, dnnl::memory::desc output,
                  dnnl::memory::desc scratchpad, Constants constants, int output_arg = DNNL_ARG_DST)
      : primitive_(std::move(primitive)), inputs_(std::move(inputs)), output_(std::move(output)),
        scratchpad_(std::move(scratchpad)), constants_(std::move(constants)),
        output_arg_(output_arg), implementation_(primitive_implementation(primitive_)) {}

  dnnl::memory::desc input_desc(size_t i) const override { return inputs_.at(i).desc; }
  dnnl::memory::desc output_desc() const override { return output_; }
  dnnl::memory::desc scratchpad_desc() const override { return scratchpad_; }

  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override {
    ExecArgs args = constants_.args;
    for (size_t i = 0; i < inputs_.size(); ++i) args[inputs_[i].arg] = inputs.at(i);
    args[output_arg_] = output;
    if (scratchpad_.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    primitive_.execute(stream, args);
  }

  std::string implementation() const override { return implementation_; }
  // Convolutions only (ops/view.cpp).
  std::unique_ptr<Kernel> writing_to(const dnnl::memory::desc& output) const override;

  // For elementwise primitives (eltwise, batch normalization) that oneDNN
  // runs with dst == src: input i may be overwritten (Kernel::can_overwrite_input).
  void allow_overwriting_input(size_t i) { overwritable_input_ = static_cast<int>(i); }
  bool can_overwrite_input(size_t i) const override {
    return overwritable_input_ == static_cast<int>(i);
  }

 private:
  dnnl::primitive primitive_;
  std::vector<Input> inputs_;
  dnnl::memory::desc output_;
  dnnl::memory::desc scratchpad_;
  Constants constants_;
  int output_arg_;
  std::string implementation_;
  int overwritable_input_ = -1;
};

}  // namespace kiln::ops
