// The model directory (format "kiln" version 1, see docs/FORMAT.md):
//   DIR/graph.json   inputs, outputs, nodes in topological order, parameter table
//   DIR/weights/*.npy
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace kiln::loaders {

// Limits on what load_model_dir() accepts, each checked before the memory it
// guards is allocated (or, for depth, before the parser can recurse).

// graph.json is refused above this size before it is read. ResNet-50's graph
// is about 100 KB; the rest is room for small models with inline weights.
constexpr uint64_t kMaxGraphJsonBytes = uint64_t(64) << 20;  // 64 MiB
// JSON nesting deeper than this is refused by a pre-scan before parsing.
// Format v1 needs 5 levels (top, "nodes", a node, "attrs", a list).
constexpr int kMaxJsonDepth = 64;
// Nodes in one graph; ResNet-152 has about 500.
constexpr size_t kMaxNodes = 100000;
// Entries in "params"; a node has at most a few parameters.
constexpr size_t kMaxParams = 4 * kMaxNodes;
// Rank of an input or parameter shape (NPY files have their own limits in npy.h).
constexpr size_t kMaxRank = 8;

// Reads graph.json and the weights it names. The graph comes back with
// output shapes not yet inferred: call ir::infer_shapes() and ir::verify().
// No file outside `dir` is ever opened: "file" paths must be relative,
// without "..", and resolve (following symlinks) inside the directory.
ir::Graph load_model_dir(const std::string& dir);

// As load_model_dir(), with graph.json's text given rather than read from
// DIR/graph.json: "file" weights are still read from `dir`, and errors still
// name DIR/graph.json. For fuzzing and for graphs built in memory.
ir::Graph parse_graph_json(const std::string& text, const std::string& dir);

// True if DIR/graph.json says it is Kiln's: format "kiln" and an integer
// version (any, so a newer Kiln's directory counts too). Only graph.json's
// head is checked, not the graph; never throws.
bool is_model_dir(const std::string& dir);

// Writes the graph as a model directory: graph.json and one NPY per
// parameter under weights/. Loads back to an identical graph. The new
// directory is written beside DIR, synced, and then replaces DIR whole (no
// file of the old one survives); on any failure DIR is left exactly as it
// was (see atomic_write.h). DIR may be missing (it is created, with its
// parents), empty, or a Kiln model directory (is_model_dir); any other
// folder is refused, naming what it holds, unless `force`.
void save_model_dir(const ir::Graph& graph, const std::string& dir, bool force = false);

// The weights/ file name save_model_dir() gives a parameter: its name with
// every character outside [A-Za-z0-9._-] replaced by '_', plus ".npy".
// (save_model_dir then adds _1, _2... where two names would collide.)
std::string param_file_stem(const std::string& name);

}  // namespace kiln::loaders
