// add: y = a + b, elementwise with NumPy broadcasting (ops/binary.h): the
// residual connections of ResNets, and x + constant.
//
// inputs   a  activation or parameter, any shape
//          b  activation or parameter, any shape broadcasting with a; at
//             least one of a and b is an activation
// output   y  the broadcast shape of a and b
// attrs    none
//
// oneDNN binary_add. y takes the layout of an activation operand of y's
// shape; the other operand is asked for in it (the engine reorders it if its
// producer wrote another), so blocked activations stay blocked. When a is the
// broadcast side, the operands swap.
#include "ops/binary.h"

namespace kiln::ops {

void register_add(Registry& r) { r.add(binary_op("add", dnnl::algorithm::binary_add)); }

}  // namespace kiln::ops
