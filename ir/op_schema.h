// OpSchema: what the IR needs to know about an op to check and shape a graph.
//
// ir/ knows no op by name. The table of schemas is built in ops/ (next to the
// kernels) and handed to infer_shapes() and verify(); passes receive it the
// same way, so nothing below ops/ depends on oneDNN.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "ir/graph.h"

namespace kiln::ir {

struct OpSchema {
  size_t min_inputs = 1;
  size_t max_inputs = 1;
  // Checks attributes, which inputs are parameters, and input shapes
  // (inputs' shapes are already inferred). Throws kiln::Error naming the node.
  std::function<void(const Node&)> validate;
  // The output shape from the inputs' shapes; called only after validate().
  std::function<Shape(const Node&)> infer_shape;
};

using OpTable = std::map<std::string, OpSchema>;

}  // namespace kiln::ir
