// hardswish: y = x * clamp(x + 3, 0, 6) / 6, elementwise (MobileNetV3).
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// oneDNN eltwise_hardswish (ops/activation.h), in whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_hardswish(Registry& r) { r.add(activation_op("hardswish")); }

}  // namespace kiln::ops
