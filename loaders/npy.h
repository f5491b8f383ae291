// NPY files: NumPy's format for one array (versions 1.0, 2.0 and 3.0).
//
// Kiln reads little-endian float32 ('<f4'), C order, and rejects anything
// else with an error naming the file: another dtype, fortran order, bad
// magic, a truncated file, a header whose shape disagrees with the data size,
// and sizes past the limits below (checked before anything is allocated).
#pragma once

#include <cstdint>
#include <string>

#include "ir/tensor.h"

namespace kiln::loaders {

constexpr size_t kNpyMaxHeaderBytes = 1 << 16;       // header dictionary length
constexpr size_t kNpyMaxRank = 8;
constexpr int64_t kNpyMaxElements = int64_t(1) << 31;  // 8 GiB of float32

// `where` names the source in errors (usually the file path).
ir::Tensor parse_npy(const std::string& bytes, const std::string& where);
ir::Tensor read_npy(const std::string& path);
// As above, but errors name the file `where` (e.g. the path as the model directory wrote it).
ir::Tensor read_npy(const std::string& path, const std::string& where);

std::string format_npy(const ir::Tensor& tensor);  // version 1.0, '<f4', C order
// Replaces `path` whole (see atomic_write.h): a failed or killed write leaves
// the old file as it was, never a truncated one.
void write_npy(const std::string& path, const ir::Tensor& tensor);

}  // namespace kiln::loaders
