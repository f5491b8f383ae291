// gelu: y = x * Phi(x), elementwise, Phi the standard normal CDF:
//   approximate "none": y = x / 2 * (1 + erf(x / sqrt(2)))
//   approximate "tanh": y = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    approximate  string "none" | "tanh"  default "none"  (as F.gelu)
//
// oneDNN eltwise_gelu_erf / eltwise_gelu_tanh (ops/activation.h), in
// whatever layout x arrives in.
#include "ops/activation.h"

namespace kiln::ops {

void register_gelu(Registry& r) { r.add(activation_op("gelu")); }

}  // namespace kiln::ops
