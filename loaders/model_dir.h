// The model directory (format "kiln" version 1, see docs/FORMAT.md):
//   DIR/graph.json   inputs, outputs, nodes in topological order, parameter table
//   DIR/weights/*.npy
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln::loaders {

// Reads graph.json and the weights it names. The graph comes back with
// output shapes not yet inferred: call ir::infer_shapes() and ir::verify().
// No file outside `dir` is ever opened.
ir::Graph load_model_dir(const std::string& dir);

// Writes the graph as a model directory (created if missing): graph.json and
// one NPY per parameter under weights/. Loads back to an identical graph.
void save_model_dir(const ir::Graph& graph, const std::string& dir);

}  // namespace kiln::loaders
