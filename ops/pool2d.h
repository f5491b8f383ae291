// What max_pool2d and avg_pool2d share: their attributes, PyTorch's output
// size rule (with ceil_mode) and the oneDNN pooling kernel. Not an op itself.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ops/kernel.h"

namespace kiln::ops {

struct Pool2dAttrs {
  std::vector<int64_t> kernel;    // [KH, KW]
  std::vector<int64_t> stride;    // default: kernel
  std::vector<int64_t> padding;   // both sides, default [0, 0]
  std::vector<int64_t> dilation;  // torch's convention (1 = dense), default [1, 1]
  bool ceil_mode = false;
};

// A pooling window of `kernel`, moved by `stride`, no padding: how the
// average ops without pooling attributes (global_avg_pool2d, mean over
// [2, 3], adaptive_avg_pool2d) set up their kernel.
Pool2dAttrs unpadded_pool2d(int64_t kh, int64_t kw, int64_t sh, int64_t sw);

// Reads and checks the attributes; `dilation` only if the op has it.
Pool2dAttrs read_pool2d_attrs(const ir::Node& node, bool has_dilation);

// Checks x (a rank-4 activation), PyTorch's rule padding <= kernel / 2, and
// that the output is not empty. Throws kiln::Error naming the node.
void validate_pool2d(const ir::Node& node, const Pool2dAttrs& a);

// PyTorch's output size along `axis` (0: H, 1: W): with ceil_mode the last
// window may hang over the right edge, but must start inside the input or
// the left padding.
int64_t pool2d_out_size(int64_t in, size_t axis, const Pool2dAttrs& a);
ir::Shape pool2d_shape(const ir::Node& node, const Pool2dAttrs& a);

// The right padding that makes oneDNN's (floor-mode) output size equal
// PyTorch's: padding[axis], or more when ceil_mode adds a last window.
int64_t pool2d_right_pad(int64_t in, size_t axis, const Pool2dAttrs& a);

// A pooling kernel that runs in the layout x arrives in.
std::unique_ptr<Kernel> compile_pool2d(const ir::Node& node, const CompileContext& ctx,
                                       const Pool2dAttrs& a, dnnl::algorithm algorithm);

}  // namespace kiln::ops
