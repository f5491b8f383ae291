// sigmoid: y = 1 / (1 + exp(-x)), elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN eltwise_logistic (ops/activation.h), in whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_sigmoid(Registry& r) { r.add(activation_op("sigmoid")); }

}  // namespace kiln::ops
