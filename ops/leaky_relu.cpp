// leaky_relu: y = x >= 0 ? x : negative_slope * x, elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    negative_slope  real (finite float32)  default 0.01
//
// oneDNN eltwise_relu with alpha = negative_slope (ops/activation.h), in
// whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_leaky_relu(Registry& r) { r.add(activation_op("leaky_relu")); }

}  // namespace kiln::ops
