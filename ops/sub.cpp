// sub: y = a - b, elementwise with NumPy broadcasting (ops/binary.h).
//
// inputs   a  activation or parameter, any shape
//          b  activation or parameter, any shape broadcasting with a; at
//             least one of a and b is an activation
// output   y  the broadcast shape of a and b
// attrs    none
//
// oneDNN binary_sub, in the layout of an activation operand of y's shape.
// When a is the broadcast side: y = -(b - a), binary_sub with an
// eltwise_linear(-1, 0) post-op, exact since negation is.
#include "ops/binary.h"

namespace kiln::ops {

void register_sub(Registry& r) { r.add(binary_op("sub", dnnl::algorithm::binary_sub)); }

}  // namespace kiln::ops
