// tanh: y = tanh(x), elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN eltwise_tanh (ops/activation.h), in whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_tanh(Registry& r) { r.add(activation_op("tanh")); }

}  // namespace kiln::ops
