// Kiln's own Winograd convolution, F(4x4, 3x3), for CPUs where oneDNN 2.6 has
// none (it ships Winograd for AVX-512 only). conv2d and conv2d_add use it
// where choose_conv_algo (ops/conv_choice.h) picks it.
#pragma once

#include <cstdint>
#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

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

// The kernel's vector width on this CPU: 16 with AVX-512, 8 with AVX2 and
// FMA, 0 without them (then the kernel does not exist). oneDNN's own limit
// (ONEDNN_MAX_CPU_ISA) counts. Both channel counts must be multiples of it.
int64_t winograd_vector_width();

// Whether the kernel reads (or writes) activations in layout `desc`: nChw{W}c
// or nhwc, with the channels a multiple of the vector width W.
bool winograd_reads(const dnnl::memory::desc& desc);

// The kernel for a conv2d-shaped node (inputs x, weight, bias?; conv2d's
// attributes) that choose_conv_algo gave to Kiln's Winograd: a 3x3, stride-1,
// dilation-1, ungrouped conv that the checks above accept. `direct` is
// oneDNN's direct convolution for the node without post-ops: the kernel reads
// x in its src layout and writes y in its dst layout, the layouts the
// neighbours use, so no reorders appear at its borders.
std::unique_ptr<Kernel> compile_winograd_conv(
    const ir::Node& conv_node, const dnnl::convolution_forward::primitive_desc& direct,
    WinogradEpilogue epilogue);

}  // namespace kiln::ops
