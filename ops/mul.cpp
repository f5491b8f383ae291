// mul: y = a * b, elementwise with NumPy broadcasting (ops/binary.h):
// squeeze-excitation gates (x * s, s [N, C, 1, 1]), layer scale, x * constant.
//
// inputs   a  activation or parameter, any shape
//          b  activation or parameter, any shape broadcasting with a; at
//             least one of a and b is an activation
// output   y  the broadcast shape of a and b
// attrs    none
//
// oneDNN binary_mul. y takes the layout of the activation operand of y's
// shape as its producer wrote it (nChw16c after a conv: no reorder of the big
// tensor); the broadcast operand comes in that layout too. When a is the
// broadcast side, the operands swap.
#include "ops/binary.h"

namespace kiln::ops {

void register_mul(Registry& r) { r.add(binary_op("mul", dnnl::algorithm::binary_mul)); }

}  // namespace kiln::ops
