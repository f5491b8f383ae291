// Activations as oneDNN eltwise steps, shared by the standalone activation
// ops (relu, clamp, sigmoid, ...: one file each in ops/) and the `activation`
// post-op attribute of conv2d, conv2d_add, linear and batchnorm (relu and
// leaky_relu only there).
//
// One table maps an activation's name and attributes to a list of eltwise
// steps; a standalone op runs the steps as eltwise primitives, a fused op
// appends them as post-ops. The attributes are read from a node under a
// prefix: "" for the standalone op (clamp's `min`), "activation_" for a
// post-op (`activation_min` on a conv2d with `activation = "clamp"`).
//
//   activation   attributes (default)              eltwise steps
//   relu         -                                 relu(0)
//   clamp        min, max (-inf, +inf; one needed)  clip(min, max)
//   sigmoid      -                                 logistic
//   silu         -                                 swish(1)
//   hardswish    -                                 hardswish
//   hardsigmoid  -                                 linear(1/6, 1/2), clip(0, 1)
//   tanh         -                                 tanh
//   gelu         approximate ("none")              gelu_erf ("none"), gelu_tanh ("tanh")
//   leaky_relu   negative_slope (0.01)             relu(negative_slope)
//   elu          alpha (1.0)                       elu(alpha)
//
// oneDNN 2.6 has no hardsigmoid, hence its two steps. Real attributes must be
// finite in float32; clamp needs min <= max.
//
// A fused op uses it like this (conv2d's compile, say):
//   check_known_attrs(node, {"stride", ..., <post_op_activation_attr_names()>});
//   dnnl::post_ops post_ops;
//   append_activation(post_ops, post_op_activation_steps(node));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"
#include "ops/registry.h"

namespace kiln::ops {

// One oneDNN eltwise step, y = f(x; alpha, beta) (see dnnl_types.h for each
// algorithm's use of alpha and beta).
struct EltwiseStep {
  dnnl::algorithm alg;
  float alpha = 0.f;
  float beta = 0.f;
};

// The activations, in the table's order above.
const std::vector<std::string>& activation_names();
bool is_activation(const std::string& name);
// Activation `name`'s attribute names without a prefix ({"min", "max"} for
// clamp); throws kiln::Error for an unknown name.
const std::vector<std::string>& activation_attrs(const std::string& name);

// The steps computing activation `name` with the node's attributes under
// `prefix`. Checks their types and values and throws kiln::Error naming the
// node and the prefixed attribute ("node 'c' (conv2d): attribute
// 'activation_min': expected a finite float32 number, got 1e+39"). Leaves
// unknown attributes to the caller (check_known_attrs).
std::vector<EltwiseStep> activation_steps(const ir::Node& node, const std::string& name,
                                          const std::string& prefix);

// --- the post-op form ----------------------------------------------------------

// "activation" and every "activation_<attribute>" of every activation: the
// names a fused op adds to its check_known_attrs list. With `outer`, each
// starts with it ("gate_activation", "gate_activation_min", ...), for an op
// with more than one activation.
std::vector<std::string> post_op_activation_attr_names(const std::string& outer = "");

// The steps for the node's `activation` attribute (string, default "none":
// no steps) and its `activation_*` attributes, each name after `outer`.
// Throws for an unknown name, listing the known ones, and for an
// `activation_*` attribute that the named activation does not take (e.g.
// `activation_alpha` with "relu").
std::vector<EltwiseStep> post_op_activation_steps(const ir::Node& node,
                                                  const std::string& outer = "");


// Appends each step as an eltwise post-op (scale 1).
void append_activation(dnnl::post_ops& post_ops, const std::vector<EltwiseStep>& steps);

// --- the standalone op -----------------------------------------------------------

// The op `name`: y = activation(x), x an activation of any shape, attributes
// unprefixed. Runs in whatever layout x arrives in (no reorder): one eltwise
// primitive per step, the later ones in place on y.
OpDef activation_op(const std::string& name);

}  // namespace kiln::ops
