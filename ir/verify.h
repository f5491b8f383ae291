// Shape inference and verify(): the graph's lint.
#pragma once

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::ir {

// Elements in one node output, per sample (the batch counted as 1): the same
// 2^31 (8 GiB of float32) as the loaders' limit on one tensor. Keeps shape
// arithmetic from overflowing on a graph that grows its activations node by
// node (e.g. thousands of convs, each padding by 2^20).
constexpr int64_t kMaxActivationElements = int64_t(1) << 31;

// Validates every node in order and sets its output shape. Throws
// kiln::Error naming the first node that fails, or whose output is past
// kMaxActivationElements.
void infer_shapes(Graph& graph, const OpTable& ops);

// The same for one node whose inputs' shapes are known: for loaders that need
// shapes while they build the graph (the ONNX loader folds shape arithmetic).
void infer_node_shape(Node& node, const OpTable& ops);

// Checks the graph's invariants; throws kiln::Error naming the first broken one:
// unique names; every input defined before its use; producer and user lists
// agree with node inputs; outputs defined; every op known, with an arity its
// schema allows, passing its validate(); output shapes equal to re-inferred ones.
void verify(const Graph& graph, const OpTable& ops);

}  // namespace kiln::ir
