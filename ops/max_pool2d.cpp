// max_pool2d: as torch.nn.functional.max_pool2d.
//
//   y[n, c, oh, ow] = max over kh < KH, kw < KW of
//       x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]   (positions outside x skipped)
//   OH = floor_or_ceil((H + 2*PH - DH*(KH-1) - 1) / SH) + 1, the same for OW; with
//   ceil_mode a last window that would start in the right padding is dropped
//
// inputs   x  activation [N, C, H, W]
// output   y  [N, C, OH, OW]
// attrs    kernel     [KH, KW]  ints >= 1  required
//          stride     [SH, SW]  ints >= 1  default = kernel
//          padding    [PH, PW]  ints >= 0  default [0, 0]; at most kernel / 2
//          dilation   [DH, DW]  ints >= 1  default [1, 1]
//          ceil_mode  int 0/1              default 0
//
// Runs in the layout x arrives in. ceil_mode becomes extra right padding
// (oneDNN rounds down); dilation uses oneDNN's pooling_v2 (counted from 0).
#include "ir/attrs.h"
#include "ops/pool2d.h"
#include "ops/registry.h"

namespace kiln::ops {

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"kernel", "stride", "padding", "dilation", "ceil_mode"});
  validate_pool2d(node, read_pool2d_attrs(node, true));
}

static ir::Shape infer_shape(const ir::Node& node) {
  return pool2d_shape(node, read_pool2d_attrs(node, true));
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return compile_pool2d(node, ctx, read_pool2d_attrs(node, true), dnnl::algorithm::pooling_max);
}

void register_max_pool2d(Registry& r) {
  r.add({"max_pool2d", {1, 1, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
