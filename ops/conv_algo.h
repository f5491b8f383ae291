// The convolution algorithms conv2d and conv2d_add may be asked for, and
// their names; choose_conv_algo (ops/conv_choice.h) applies them per node.
#pragma once

#include <optional>
#include <string>

namespace kiln::ops {

enum class ConvAlgo {
  direct,         // oneDNN's convolution_direct everywhere (brgconv on AVX-512)
  winograd,       // Winograd on every conv it computes (3x3, stride 1, dilation
                  // 1, one group): oneDNN's convolution_winograd where the CPU
                  // has it (AVX-512), Kiln's own F(4x4, 3x3) (ops/winograd.h)
                  // elsewhere; direct for the rest
  kiln_winograd,  // Kiln's own Winograd on every conv it computes, even where
                  // oneDNN has one (to compare them, and to test it on any CPU)
  // Named "auto" everywhere; `auto` is a C++ keyword, hence the underscore.
  auto_,          // per layer, by rules measured on ResNet18's layers (conv_choice.cpp)
};

// The names engine-run's --conv-algo and bench/ use: "direct", "winograd",
// "kiln-winograd", "auto".
const char* conv_algo_name(ConvAlgo algo);
std::optional<ConvAlgo> conv_algo_from_name(const std::string& name);
// "direct, winograd, kiln-winograd or auto", for error messages.
std::string conv_algo_names();

}  // namespace kiln::ops
