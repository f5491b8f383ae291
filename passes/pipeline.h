// The pass pipeline: which passes each fuse level runs, and in what order.
#pragma once

#include <vector>

#include "passes/pass.h"

namespace kiln::passes {

// How far to rewrite a graph; each level runs the passes of the one before,
// then its own. Their names for users (--fuse=bn, ...) are kiln::fuse_levels().
enum class FuseLevel { none, batchnorm, all };

// The passes of `level`, in the order they run (see pipeline.cpp).
std::vector<Pass> pipeline(FuseLevel level);

}  // namespace kiln::passes
