// div: y = a / b, elementwise with NumPy broadcasting (ops/binary.h).
//
// inputs   a  activation or parameter, any shape
//          b  activation or parameter, any shape broadcasting with a; at
//             least one of a and b is an activation
// output   y  the broadcast shape of a and b
// attrs    none
//
// oneDNN binary_div, in the layout of an activation operand of y's shape.
// When a is the broadcast side, a is first copied, broadcast, into y's buffer
// and the division runs in place on it: exact (a * (1 / b) would round twice).
#include "ops/binary.h"

namespace kiln::ops {

void register_div(Registry& r) { r.add(binary_op("div", dnnl::algorithm::binary_div)); }

}  // namespace kiln::ops
