// hardsigmoid: y = clamp(x / 6 + 1/2, 0, 1), elementwise (MobileNetV3's gates).
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN 2.6 has no hardsigmoid: eltwise_linear(1/6, 1/2) then
// eltwise_clip(0, 1), the second in place (ops/activation.h), in whatever
// layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_hardsigmoid(Registry& r) { r.add(activation_op("hardsigmoid")); }

}  // namespace kiln::ops
