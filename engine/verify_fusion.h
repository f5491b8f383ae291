// Checks a fused graph against the unfused one node by node, so a wrong fold
// is caught at the node where it goes wrong, not at the output.
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/graph.h"
#include "kiln/kiln.h"
#include "passes/pass.h"

namespace kiln::engine {

// What the check found, per fused node: the public API's types (kiln/kiln.h).
using kiln::FusionCheck;
using kiln::NodeCheck;

// Runs both graphs on `inputs` with every node output kept, and compares each
// fused node with its counterpart: the unfused value of the same name, or the
// one the passes' `replaced` lists say it took over (bn1 -> conv1). The
// fused graph is compiled with `fused_options` (e.g. Winograd convolutions),
// the unfused one always with the defaults, so it stays the reference.
FusionCheck check_fusion(const ir::Graph& unfused, const ir::Graph& fused,
                         const std::vector<passes::PassReport>& reports,
                         const std::vector<ir::Tensor>& inputs, double rel_tolerance = 1e-4,
                         const CompileOptions& fused_options = {});

}  // namespace kiln::engine
