// fuse_conv_activation: moves each activation into the conv2d, conv2d_add, linear,
// batchnorm or concat_batchnorm before it, as oneDNN eltwise post-ops (or, for
// concat_batchnorm, inside Kiln's loop).
//
// Matches:    X -> A with X a conv2d, conv2d_add, linear, batchnorm or concat_batchnorm
//             whose "activation" is "none", and A any op whose schema says it is a post-op activation
//             (relu, clamp, sigmoid, silu, hardswish, hardsigmoid, tanh, gelu,
//             leaky_relu, elu) and that X's schema lists in takes_activations (all of
//             them for conv2d, conv2d_add and linear; relu and leaky_relu for batchnorm and
//             concat_batchnorm, the only post-op oneDNN 2.6's batch normalization takes).
// Refuses:    when X cannot apply A, X's output has another user or is a graph output,
//             X already applies an activation, or X is a depthwise conv2d (groups > 1,
//             one input channel each) and A is silu, sigmoid or gelu, which run
//             faster as their own step there (measured: fuse_conv_activation.cpp).
// Guarantees: A is erased, its users read X, which now has activation = A's op and A's
//             attributes as activation_<attr>; outputs are unchanged up to float rounding.
#pragma once

#include "passes/pass.h"

namespace kiln::passes {

PassReport fuse_conv_activation(ir::Graph& graph, const ir::OpTable& ops);

}  // namespace kiln::passes
