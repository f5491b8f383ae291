// The convolution algorithms conv2d and conv2d_add may be asked for, the
// kernels a conv may run on, and their names; choose_conv_algo
// (ops/conv_choice.h) applies them per node, compile_conv_tuned
// (ops/conv_tune.h) times the kernels for `tune`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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
  auto_,          // per layer: as tuned on this CPU where CompileContext::conv_tunings
                  // has the layer, else by rules measured on ResNet18's layers
                  // (conv_choice.cpp)
  tune,           // per layer, the fastest kernel as timed now on the layer's
                  // shapes (conv_tune.h); the times go to CompileContext::conv_tunings
};

// The names engine-run's --conv-algo and bench/ use: "direct", "winograd",
// "kiln-winograd", "auto", "tune".
const char* conv_algo_name(ConvAlgo algo);
std::optional<ConvAlgo> conv_algo_from_name(const std::string& name);
// "direct, winograd, kiln-winograd, auto or tune", for error messages.
std::string conv_algo_names();

// The kernels a convolution node may run on.
enum class ConvKernel {
  direct,           // oneDNN's convolution_direct
  onednn_winograd,  // oneDNN's convolution_winograd (AVX-512 only in oneDNN 2.6)
  kiln_winograd,    // Kiln's own F(4x4, 3x3), ops/winograd.h
};

// "direct", "onednn winograd", "kiln winograd": in reasons and in the tune cache.
const char* conv_kernel_name(ConvKernel kernel);
std::optional<ConvKernel> conv_kernel_from_name(const std::string& name);

// One conv layer as `tune` timed it on this CPU: each kernel that can run it
// with its median milliseconds (input reorders included), in the order timed.
struct ConvTuning {
  struct Time {
    ConvKernel kernel;
    double ms;
  };
  std::vector<Time> times;

  ConvKernel fastest() const;
  // "direct 0.412 ms, onednn winograd 0.331 ms, kiln winograd 0.3 ms"
  std::string str() const;
};

// The tunings of one CPU, by conv_signature() (ops/conv_tune.h).
using ConvTunings = std::map<std::string, ConvTuning>;

}  // namespace kiln::ops
