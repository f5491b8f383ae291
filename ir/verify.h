// Shape inference and verify(): the graph's lint.
#pragma once

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::ir {

// Validates every node in order and sets its output shape. Throws
// kiln::Error naming the first node that fails.
void infer_shapes(Graph& graph, const OpTable& ops);

// Checks the graph's invariants; throws kiln::Error naming the first broken one:
// unique names; every input defined before its use; producer and user lists
// agree with node inputs; outputs defined; every op known, with an arity its
// schema allows, passing its validate(); output shapes equal to re-inferred ones.
void verify(const Graph& graph, const OpTable& ops);

}  // namespace kiln::ir
