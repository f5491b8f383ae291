#include "ops/pool2d.h"

#include <algorithm>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"

namespace kiln::ops {

using dnnl::memory;

Pool2dAttrs unpadded_pool2d(int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
  return {{kh, kw}, {sh, sw}, {0, 0}, {1, 1}, false};
}

Pool2dAttrs read_pool2d_attrs(const ir::Node& node, bool has_dilation) {
  Pool2dAttrs a;
  if (!node.attrs.count("kernel"))
    throw Error(node.where(), "attribute 'kernel' is required");
  a.kernel = ir::attr_ints_checked(node, "kernel", 2, 1, {});
  a.stride = ir::attr_ints_checked(node, "stride", 2, 1, a.kernel);
  a.padding = ir::attr_ints_checked(node, "padding", 2, 0, {0, 0});
  a.dilation = has_dilation ? ir::attr_ints_checked(node, "dilation", 2, 1, {1, 1})
                            : std::vector<int64_t>{1, 1};
  int64_t ceil_mode = ir::attr_int(node, "ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1)
    throw Error(node.where(),
                "attribute 'ceil_mode': expected 0 or 1, got " + std::to_string(ceil_mode));
  a.ceil_mode = ceil_mode == 1;
  return a;
}

// Floor division for a possibly negative numerator.
static int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int64_t pool2d_out_size(int64_t in, size_t axis, const Pool2dAttrs& a) {
  const int64_t k = a.kernel[axis], s = a.stride[axis], p = a.padding[axis];
  const int64_t span = a.dilation[axis] * (k - 1) + 1;
  int64_t out = div_floor(in + 2 * p - span + (a.ceil_mode ? s - 1 : 0), s) + 1;
  if (a.ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void validate_pool2d(const ir::Node& node, const Pool2dAttrs& a) {
  require_activation(node, 0, "x");
  require_nchw(node, 0, "x");
  const ir::Shape& x = node.inputs[0]->shape;
  if (a.padding[0] > a.kernel[0] / 2 || a.padding[1] > a.kernel[1] / 2)
    throw Error(node.where(), "attribute 'padding': expected at most half the kernel " +
                                  ir::attr_str(a.kernel) + ", got " + ir::attr_str(a.padding));
  const char* axis[] = {"H", "W"};
  for (size_t i = 0; i < 2; ++i) {
    if (pool2d_out_size(x[2 + i], i, a) < 1)
      throw Error(node.where(), std::string("kernel along ") + axis[i] + " spans " +
                                    std::to_string(a.dilation[i] * (a.kernel[i] - 1) + 1) +
                                    ", larger than the padded input " +
                                    std::to_string(x[2 + i] + 2 * a.padding[i]) +
                                    ": the output would be empty");
  }
}

ir::Shape pool2d_shape(const ir::Node& node, const Pool2dAttrs& a) {
  const ir::Shape& x = node.inputs[0]->shape;
  return {x[0], x[1], pool2d_out_size(x[2], 0, a), pool2d_out_size(x[3], 1, a)};
}

int64_t pool2d_right_pad(int64_t in, size_t axis, const Pool2dAttrs& a) {
  const int64_t out = pool2d_out_size(in, axis, a);
  const int64_t span = a.dilation[axis] * (a.kernel[axis] - 1) + 1;
  // The last window ends at (out - 1) * stride + span - padding.
  return std::max(a.padding[axis], (out - 1) * a.stride[axis] + span - in - a.padding[axis]);
}

std::unique_ptr<Kernel> compile_pool2d(const ir::Node& node, const CompileContext& ctx,
                                       const Pool2dAttrs& a, dnnl::algorithm algorithm) {
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape y = pool2d_shape(node, a);
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const memory::desc& src = ctx.input_descs.at(0);
    memory::desc dst(to_dims(y), memory::data_type::f32, memory::format_tag::any);
    memory::dims pad_r = {pool2d_right_pad(x[2], 0, a), pool2d_right_pad(x[3], 1, a)};
    dnnl::pooling_v2_forward::desc desc(
        dnnl::prop_kind::forward_inference, algorithm, src, dst, {a.stride[0], a.stride[1]},
        {a.kernel[0], a.kernel[1]}, {a.dilation[0] - 1, a.dilation[1] - 1},
        {a.padding[0], a.padding[1]}, pad_r);
    dnnl::pooling_v2_forward::primitive_desc pd(desc, make_attr(), ctx.engine);
    return std::make_unique<PrimitiveKernel>(
        dnnl::pooling_v2_forward(pd), std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, src}},
        pd.dst_desc(), pd.scratchpad_desc(), ExecArgs{});
  });
}

}  // namespace kiln::ops
