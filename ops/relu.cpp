// relu: y = max(x, 0), elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN eltwise_relu (ops/activation.h), in whatever layout x arrives in
// (blocked or plain), so it never forces a reorder.
#include "ops/activation.h"

namespace kiln::ops {

void register_relu(Registry& r) { r.add(activation_op("relu")); }

}  // namespace kiln::ops
