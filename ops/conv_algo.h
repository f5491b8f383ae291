// How conv2d and conv2d_add choose oneDNN's convolution algorithm.
#pragma once

namespace kiln::ops {

enum class ConvAlgo {
  direct,     // convolution_direct everywhere (brgconv on AVX-512)
  winograd,   // convolution_winograd wherever oneDNN has it (3x3, stride 1,
              // dilation 1, one group), direct elsewhere
  automatic,  // per layer, by a rule measured on ResNet18's layers (conv2d.cpp)
};

}  // namespace kiln::ops
