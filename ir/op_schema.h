// OpSchema: what the IR needs to know about an op to check and shape a graph.
//
// ir/ knows no op by name. The table of schemas is built in ops/ (next to the
// kernels) and handed to infer_shapes() and verify(); passes receive it the
// same way, so nothing below ops/ depends on oneDNN.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

struct OpSchema {
  OpSchema() = default;
  // The four every op has; the post-op fields below are set by the few that use them.
  OpSchema(size_t min_inputs, size_t max_inputs, std::function<void(const Node&)> validate,
           std::function<Shape(const Node&)> infer_shape)
      : min_inputs(min_inputs),
        max_inputs(max_inputs),
        validate(std::move(validate)),
        infer_shape(std::move(infer_shape)) {}

  size_t min_inputs = 1;
  size_t max_inputs = 1;
  // Checks attributes, which inputs are parameters, and input shapes
  // (inputs' shapes are already inferred). Throws kiln::Error naming the node.
  std::function<void(const Node&)> validate;
  // The output shape from the inputs' shapes; called only after validate().
  std::function<Shape(const Node&)> infer_shape;
  // True for an activation (relu, clamp, ...) that the op producing its input
  // can apply as a post-op instead (see takes_activations): its attributes
  // then move onto that node as `activation_<attr>` (fuse_conv_activation),
  // and post_op_attrs lists them ({"min", "max"} for clamp).
  bool post_op_activation = false;
  std::vector<std::string> post_op_attrs;
  // For an op with an `activation` attribute applied as a post-op: the
  // activations it can apply (every one for conv2d, conv2d_add and linear;
  // relu and leaky_relu for batchnorm). Empty for every other op.
  std::vector<std::string> takes_activations;
};

using OpTable = std::map<std::string, OpSchema>;

}  // namespace kiln::ir
