// linear: fully connected layer, as torch.nn.functional.linear.
//
//   y[n, o] = bias[o] + sum over i of x[n, i] * weight[o, i]
//
// inputs   x       activation [N, IN]
//          weight  parameter  [OUT, IN]
//          bias    parameter  [OUT], optional
// output   y       [N, OUT]
// attrs    none
//
// A oneDNN inner product with every layout format_tag::any: the weights are
// reordered once into the layout the primitive chose; x is 2-D, so its
// layout is in practice the plain one flatten writes.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {});
  require_activation(node, 0, "x");
  require_param(node, 1, "weight");
  if (node.inputs.size() == 3) require_param(node, 2, "bias");
  require_rank(node, 0, "x", 2);
  require_rank(node, 1, "weight", 2);
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape& w = node.inputs[1]->shape;
  if (x[1] < 1 || w[0] < 1)
    throw Error(node.where(), "expected positive sizes, got x " + ir::shape_str(x) +
                                  " and weight " + ir::shape_str(w));
  if (w[1] != x[1])
    throw Error(node.where(), "weight '" + node.inputs[1]->name + "' " + ir::shape_str(w) +
                                  ": expected " + std::to_string(x[1]) +
                                  " input features (x '" + node.inputs[0]->name + "' is " +
                                  ir::shape_str(x) + "), got " + std::to_string(w[1]));
  if (node.inputs.size() == 3) require_shape(node, 2, "bias", {w[0]});
}

static ir::Shape infer_shape(const ir::Node& node) {
  return {node.inputs[0]->shape[0], node.inputs[1]->shape[0]};
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Tensor& weight = *node.inputs[1]->data;
  const ir::Tensor* bias = node.inputs.size() == 3 ? node.inputs[2]->data.get() : nullptr;
  const int64_t N = node.inputs[0]->shape[0], IN = weight.shape[1], OUT = weight.shape[0];
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    auto any = [](const memory::dims& dims) {
      return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
    };
    const auto prop = dnnl::prop_kind::forward_inference;
    dnnl::inner_product_forward::desc desc =
        bias ? dnnl::inner_product_forward::desc(prop, any({N, IN}), any({OUT, IN}), any({OUT}),
                                                 any({N, OUT}))
             : dnnl::inner_product_forward::desc(prop, any({N, IN}), any({OUT, IN}),
                                                 any({N, OUT}));
    dnnl::inner_product_forward::primitive_desc pd(desc, make_attr(), ctx.engine);

    Constants constants;
    pack_param(constants, DNNL_ARG_WEIGHTS, weight, pd.weights_desc());
    if (bias) pack_param(constants, DNNL_ARG_BIAS, *bias, pd.bias_desc());
    return std::make_unique<PrimitiveKernel>(
        dnnl::inner_product_forward(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, pd.src_desc()}}, pd.dst_desc(),
        pd.scratchpad_desc(), std::move(constants));
  });
}

void register_linear(Registry& r) { r.add({"linear", {2, 3, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
