// Files a model names beside itself (weights, external data) must stay in
// the model's directory: the checks both loaders share.
#pragma once

#include <filesystem>
#include <string>

namespace kiln::loaders {

// The model directory `dir`, canonical, or an error naming it.
std::filesystem::path model_root(const std::string& dir);

// The canonical path of `rel` (relative to the canonical directory `root`),
// or kiln::Error (prefixed by `where`; `what` names the file in messages,
// e.g. "file 'weights/a.npy'") if it is missing, resolves (through symlinks)
// outside `root`, or is not a regular file. The caller first checks the
// path's form: relative, and no ".." leaving the directory.
std::filesystem::path canonical_inside(const std::filesystem::path& root, const std::filesystem::path& rel,
                                       const std::string& what, const std::string& where);

}  // namespace kiln::loaders
