// global_avg_pool2d: the mean over each channel's H x W plane, as
// torch.nn.AdaptiveAvgPool2d((1, 1)).
//
//   y[n, c, 0, 0] = sum over h < H, w < W of x[n, c, h, w] / (H * W)
//
// inputs   x  activation [N, C, H, W]
// output   y  [N, C, 1, 1]
// attrs    none
//
// An average pooling whose kernel is the whole plane, in the layout x
// arrives in (blocked after a conv).
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/pool2d.h"
#include "ops/registry.h"

namespace kiln::ops {

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {});
  require_activation(node, 0, "x");
  require_nchw(node, 0, "x");
}

static ir::Shape infer_shape(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  return {x[0], x[1], 1, 1};
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  return compile_pool2d(node, ctx, unpadded_pool2d(x[2], x[3], x[2], x[3]),
                        dnnl::algorithm::pooling_avg_exclude_padding);
}

void register_global_avg_pool2d(Registry& r) {
  r.add({"global_avg_pool2d", {1, 1, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
