// clamp: y = min(max(x, min), max), elementwise; torch.clamp, F.relu6
// (clamp(0, 6)) and F.hardtanh(x, a, b) (clamp(a, b)).
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    min  real  default -inf  (finite float32 when given)
//          max  real  default +inf  (finite float32 when given)
//          at least one of them; min <= max
//
// oneDNN eltwise_clip(min, max) (ops/activation.h), in whatever layout x
// arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_clamp(Registry& r) { r.add(activation_op("clamp")); }

}  // namespace kiln::ops
