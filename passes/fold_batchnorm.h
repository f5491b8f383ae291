// fold_batchnorm: bakes each inference BatchNorm into the conv2d or linear before it.
//
// Matches:    conv2d -> batchnorm, linear -> batchnorm (BN input produced by the conv/linear).
// Refuses:    when the conv/linear output has another user or is a graph output,
//             or its weight parameter is shared with another node.
// Guarantees: the BN is erased, its users read the conv/linear output, and the
//             outputs are unchanged up to float rounding (maths in double).
#pragma once

#include <optional>

#include "ir/tensor.h"
#include "passes/pass.h"

namespace kiln::passes {

struct FoldedWeights {
  ir::Tensor weight;
  ir::Tensor bias;
};

// The fold, a pure function. `weight` has the output channel in dim 0 (conv
// [OC, IC/groups, KH, KW], linear [OUT, IN]); the vectors have OC elements.
// With s = gamma / sqrt(var + eps):
//   weight' = weight * s (per output channel),  bias' = (bias - mean) * s + beta
// A missing bias is 0, a missing gamma 1, a missing beta 0. Computed in
// double, stored as float32. Throws kiln::Error if var + eps <= 0 or any
// statistic is not finite (`where` names the BN node), before it writes
// anything. `weight` is taken by value and rescaled in place: a caller that
// owns the only copy moves it in and no new weight buffer is made.
FoldedWeights fold_bn_weights(ir::Tensor weight, const ir::Tensor* bias,
                              const ir::Tensor& mean, const ir::Tensor& var, double eps,
                              const ir::Tensor* gamma, const ir::Tensor* beta,
                              const std::string& where);

PassReport fold_batchnorm(ir::Graph& graph);

}  // namespace kiln::passes
