// The parts of batchnorm that concat_batchnorm shares: its attributes, its
// parameters and the per-channel affine map they make.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ops {

// The activations batchnorm applies as a post-op (oneDNN 2.6's batch
// normalization takes only a relu, with any negative slope).
const std::vector<std::string>& batchnorm_activations();

// Checks the attributes (`eps`, `activation` and its `activation_*`) and
// the parameters from input `first` on: running_mean, running_var and
// optionally weight and bias, each [C], with running_var + eps > 0.
void validate_batchnorm(const ir::Node& node, size_t first, int64_t C);

// y = x * scale[c] + shift[c] computes the node's normalisation:
// scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale
// (weight 1 and bias 0 when absent), computed in double and rounded once.
struct ChannelAffine {
  std::vector<float> scale, shift;
};
ChannelAffine batchnorm_affine(const ir::Node& node, size_t first);

}  // namespace kiln::ops
