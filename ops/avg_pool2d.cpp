// avg_pool2d: as torch.nn.functional.avg_pool2d (no divisor_override).
//
//   y[n, c, oh, ow] = sum over the window of x / count
//   window: rows oh*SH - PH .. oh*SH - PH + KH - 1 (columns alike); x is 0 outside
//   count:  count_include_pad = 1: the window clipped to the padded input (KH*KW
//           except where a ceil_mode window hangs past the right padding)
//           count_include_pad = 0: the window's positions inside x
//   OH, OW as max_pool2d with dilation 1
//
// inputs   x  activation [N, C, H, W]
// output   y  [N, C, OH, OW]
// attrs    kernel             [KH, KW]  ints >= 1  required
//          stride             [SH, SW]  ints >= 1  default = kernel
//          padding            [PH, PW]  ints >= 0  default [0, 0]; at most kernel / 2
//          ceil_mode          int 0/1              default 0
//          count_include_pad  int 0/1              default 1
//
// Runs in the layout x arrives in. ceil_mode becomes extra right padding.
// oneDNN's include-padding average always divides by KH*KW, so a node whose
// ceil_mode window hangs past the padded input with count_include_pad = 1 is
// refused rather than computed differently from PyTorch.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/pool2d.h"
#include "ops/registry.h"

namespace kiln::ops {

static bool read_count_include_pad(const ir::Node& node) {
  int64_t v = ir::attr_int(node, "count_include_pad", 1);
  if (v != 0 && v != 1)
    throw Error(node.where(),
                "attribute 'count_include_pad': expected 0 or 1, got " + std::to_string(v));
  return v == 1;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"});
  Pool2dAttrs a = read_pool2d_attrs(node, false);
  bool include_pad = read_count_include_pad(node);
  validate_pool2d(node, a);
  if (!a.ceil_mode || !include_pad) return;
  const ir::Shape& x = node.inputs[0]->shape;
  const char* axis[] = {"H", "W"};
  for (size_t i = 0; i < 2; ++i) {
    int64_t in = x[2 + i], p = a.padding[i];
    int64_t last_end = (pool2d_out_size(in, i, a) - 1) * a.stride[i] - p + a.kernel[i];
    if (last_end > in + p)
      throw Error(node.where(),
                  std::string("ceil_mode=1 with count_include_pad=1 is not supported when the "
                              "last window hangs past the padded input (along ") +
                  axis[i] + ": window ends at " + std::to_string(last_end) +
                  ", padded input ends at " + std::to_string(in + p) +
                  "); PyTorch divides that window by its clipped size, oneDNN by the full kernel");
  }
}

static ir::Shape infer_shape(const ir::Node& node) {
  return pool2d_shape(node, read_pool2d_attrs(node, false));
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  auto algorithm = read_count_include_pad(node) ? dnnl::algorithm::pooling_avg_include_padding
                                                : dnnl::algorithm::pooling_avg_exclude_padding;
  return compile_pool2d(node, ctx, read_pool2d_attrs(node, false), algorithm);
}

void register_avg_pool2d(Registry& r) {
  r.add({"avg_pool2d", {1, 1, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
