// The elementwise binary ops add, sub, mul and div: their shared checks,
// NumPy broadcasting and kernel. Each op's file (ops/add.cpp, ...) holds its
// formula and registers binary_op(name, algorithm).
//
// Inputs a and b are each an activation or a parameter, at least one an
// activation. Shapes are aligned on the right (the shorter one gets leading
// 1s); each pair of dimensions must be equal or one of them 1; the output
// takes the larger. A scalar is a parameter of shape [] or [1]. The symbolic
// batch N broadcasts with N or 1 only, as it may be any size.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"
#include "ops/registry.h"

namespace kiln::ops {

// The broadcast shape of `a` and `b`, or nullopt if they cannot broadcast.
std::optional<ir::Shape> broadcast_shapes(const ir::Shape& a, const ir::Shape& b);

// The op `name` computing y = a <alg> b, alg one of binary_add, binary_sub,
// binary_mul, binary_div. An nhwc activation with one value per channel (or
// per image and channel) on the other side runs Kiln's loop
// (ops/channel_gate.h). Otherwise the kernel is one oneDNN binary primitive,
// which reads src0 whole and may broadcast src1 only:
// - the output takes the layout of an activation operand of the output's
//   shape, as its producer wrote it (blocked stays blocked, no reorder of the
//   big tensor); the broadcast operand is asked for (or a parameter packed
//   once) in that same layout, where oneDNN's jit kernels run;
// - when a is the broadcast side: add and mul swap the operands; sub computes
//   -(b - a) (an eltwise_linear(-1, 0) post-op: exact, as negation is);
// - div with a broadcast a, or both sides broadcast: a is first copied,
//   broadcast, into the output buffer (a oneDNN reorder from a zero-stride
//   view of a), then y = y <alg> b runs in place. Exact, one extra pass.
OpDef binary_op(const std::string& name, dnnl::algorithm alg);

}  // namespace kiln::ops
