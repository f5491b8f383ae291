// linear: fully connected layer, as torch.nn.functional.linear.
//
//   y[..., o] = bias[o] + sum over i of x[..., i] * weight[o, i]
//
// inputs   x       activation [..., IN], rank 2 to 6 ([N, IN] after a flatten; [N, L, IN]
//                  or [N, H, W, IN] in transformer-style blocks)
//          weight  parameter  [OUT, IN]
//          bias    parameter  [OUT], optional
// output   y       [..., OUT]
// attrs    activation  "none" or an activation's name, with its attributes as
//                      activation_<attr>, as conv2d; default "none": y = activation(y)
//                      as oneDNN eltwise post-ops (set by fuse_conv_activation)
//
// A oneDNN inner product with every layout format_tag::any: the weights are
// reordered once into the layout the primitive chose. A 2-D x arrives in
// practice plain (from flatten); a higher-rank x is read plain and seen as
// [M, IN] with M the product of its leading dims, y as [M, OUT].
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

using dnnl::memory;

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, post_op_activation_attr_names());
  post_op_activation_steps(node);
  require_activation(node, 0, "x");
  require_param(node, 1, "weight");
  if (node.inputs.size() == 3) require_param(node, 2, "bias");
  require_rank_1_to_max(node, 0, "x");
  require_rank(node, 1, "weight", 2);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  if (x.size() < 2)
    throw Error(node.where(), "x '" + node.inputs[0]->name + "': expected rank 2 to " +
                                  std::to_string(kMaxRank) + ", got shape " + ir::shape_str(x));
  if (w[0] < 1)
    throw Error(node.where(), "expected positive sizes, got x " + ir::shape_str(x) +
                                  " and weight " + ir::shape_str(w));
  if (w[1] != x.back())
    throw Error(node.where(), "weight '" + node.inputs[1]->name + "' " + ir::shape_str(w) +
                                  ": expected " + std::to_string(x.back()) +
                                  " input features (x '" + node.inputs[0]->name + "' is " +
                                  ir::shape_str(x) + "), got " + std::to_string(w[1]));
  if (node.inputs.size() == 3) require_shape(node, 2, "bias", {w[0]});
}

static ir::Shape infer_shape(const ir::Node& node) {
  ir::Shape y = node.inputs[0]->shape;
  y.back() = node.inputs[1]->shape[0];
  return y;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Tensor& weight = *node.inputs[1]->data;
  const ir::Tensor* bias = node.inputs.size() == 3 ? node.inputs[2]->data.get() : nullptr;
  const ir::Shape& x = node.inputs[0]->shape;
  const int64_t IN = weight.shape[1], OUT = weight.shape[0];
  const int64_t M = ir::shape_numel(x) / IN;
  const bool rows_view = x.size() > 2;
  dnnl::post_ops post_ops;
  append_activation(post_ops, post_op_activation_steps(node));
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    auto any = [](const memory::dims& dims) {
      return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
    };
    // A 2-D view of a higher-rank x must be plain, so that it is x's plain bytes.
    const memory::desc src = rows_view ? plain_desc({M, IN}) : any({M, IN});
    const memory::desc dst = rows_view ? plain_desc({M, OUT}) : any({M, OUT});
    const auto prop = dnnl::prop_kind::forward_inference;
    dnnl::inner_product_forward::desc desc =
        bias ? dnnl::inner_product_forward::desc(prop, src, any({OUT, IN}), any({OUT}), dst)
             : dnnl::inner_product_forward::desc(prop, src, any({OUT, IN}), dst);
    dnnl::inner_product_forward::primitive_desc pd(desc, make_attr(post_ops), ctx.engine);

    Constants constants;
    pack_param(constants, DNNL_ARG_WEIGHTS, weight, pd.weights_desc());
    if (bias) pack_param(constants, DNNL_ARG_BIAS, *bias, pd.bias_desc());
    auto kernel = std::make_unique<PrimitiveKernel>(
        dnnl::inner_product_forward(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, pd.src_desc()}}, pd.dst_desc(),
        pd.scratchpad_desc(), std::move(constants));
    if (!rows_view) return kernel;
    return std::make_unique<ReshapedKernel>(std::move(kernel),
                                            std::vector<memory::desc>{plain_desc(x)},
                                            plain_desc(infer_shape(node)), ctx.engine);
  });
}

void register_linear(Registry& r) {
  ir::OpSchema schema{2, 3, validate, infer_shape};
  schema.takes_activations = activation_names();
  r.add({"linear", schema, compile});
}

}  // namespace kiln::ops
