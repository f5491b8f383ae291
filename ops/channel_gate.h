// Kiln's kernel for a binary op of a channels-last activation with one value
// per channel: y = x <op> g, x [N, C, H, W] in nhwc, g [N, C, 1, 1] or
// [1, C, 1, 1] (a squeeze-excitation gate, a per-channel scale or shift).
// add, sub, mul and div (binary.cpp) run it there instead of oneDNN's
// binary, whose nhwc kernel pays a fixed cost per row of C floats:
// [10, 32, 112, 112] times a [10, 32, 1, 1] gate took 834 us, against 122 us
// in nChw16c, on a Zen 4 with 2 threads (bench/README.md).
#pragma once

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/tensor.h"
#include "ops/kernel.h"

namespace kiln::ops {

// What the kernel computes and reads.
struct ChannelGate {
  dnnl::algorithm alg;  // binary_add, binary_sub, binary_mul or binary_div
  // y = g <op> x instead of x <op> g.
  bool gate_first = false;
  dnnl::memory::dims y;  // [N, C, H, W]
  bool per_image = true;  // g holds N * C values, else C
  // The activation inputs in node order: x's index, and g's (-1: g is the
  // parameter `gate`).
  int x_input = 0;
  int g_input = -1;
  const ir::Tensor* gate = nullptr;
};

// Whether the kernel takes x arriving in `x_layout` and g of right-aligned
// dims `g_dims`: x nhwc, g one value per (n, c) or per c.
bool channel_gate_applies(const dnnl::memory::desc& x_layout, const dnnl::memory::dims& g_dims);

// The kernel. An activation g is read in the layout it arrives in
// (`g_layout`) when its values lie in (n, c) order there (plain, nhwc, or
// blocks that C fills), else asked for plain; ignored for a parameter.
std::unique_ptr<Kernel> compile_channel_gate(const ChannelGate& gate,
                                             const dnnl::memory::desc& g_layout);

}  // namespace kiln::ops
