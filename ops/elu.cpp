// elu: y = x > 0 ? x : alpha * (exp(x) - 1), elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    alpha  real (finite float32)  default 1.0
//
// oneDNN eltwise_elu (ops/activation.h), in whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_elu(Registry& r) { r.add(activation_op("elu")); }

}  // namespace kiln::ops
