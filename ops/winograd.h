// Kiln's own Winograd convolution, F(4x4, 3x3), for CPUs where oneDNN 2.6 has
// none (it ships Winograd for AVX-512 only). conv2d and conv2d_add use it
// under ConvAlgo::kiln_winograd, and under winograd / automatic where their
// rules pick it (ops/conv2d.cpp).
#pragma once

#include <memory>

#include "ir/graph.h"
#include "ops/kernel.h"

namespace kiln::ops {

// What happens to the convolution's output before it is stored:
//   y = act(conv + bias + residual), residual and act optional.
struct WinogradEpilogue {
  enum class Residual {
    none,      // y = act(conv + bias)
    in_place,  // the output buffer holds the residual (activation input 1,
               // Kernel::inplace_input() == 1): y = act(conv + bias + y)
    input,     // the residual is activation input 1, in the output's layout
  };
  Residual residual = Residual::none;
  bool relu = false;
};

// The kernel for a conv2d-shaped node (inputs x, weight, bias?; conv2d's
// attributes), or nullptr where it does not apply: not 3x3, stride 1,
// dilation 1 and one group; channels not a multiple of the vector width (8
// with AVX2, 16 with AVX-512); or oneDNN's direct convolution would not use a
// layout the kernel reads (nChw8c, nChw16c or nhwc). It reads x and writes y
// in that same layout, so no reorders appear at its borders.
std::unique_ptr<Kernel> compile_winograd_conv(const ir::Node& conv_node, const CompileContext& ctx,
                                              WinogradEpilogue epilogue);

}  // namespace kiln::ops
