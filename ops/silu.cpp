// silu: y = x * sigmoid(x) = x / (1 + exp(-x)), elementwise (also called swish).
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN eltwise_swish with alpha 1 (ops/activation.h), in whatever layout x
// arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_silu(Registry& r) { r.add(activation_op("silu")); }

}  // namespace kiln::ops
