// layer_norm: normalises over the last dims, as torch.nn.functional.layer_norm.
//
//   for each index i of the leading dims, over the K = prod(normalized_shape) values x[i, ...]:
//   y[i, k] = (x[i, k] - mean_i) / sqrt(var_i + eps) * weight[k] + bias[k]
//   mean_i, var_i: their mean and biased variance; weight 1 and bias 0 when absent
//
// inputs   x       activation, rank 2 to 6 (rank 1 when the batch is fixed)
//          weight  parameter  normalized_shape, optional
//          bias    parameter  normalized_shape, optional (only with weight)
// output   y       x's shape
// attrs    normalized_shape  list of ints >= 1  required; x's last dims
//          eps               real >= 0          default 1e-5
//
// oneDNN's layer_normalization_forward normalises over the last dim of a
// plain tensor, so x is read plain and seen as [M, K] (ConvNeXt's x is
// [N, H, W, C] from a permute, plain already).
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

using dnnl::memory;

static std::vector<int64_t> read_normalized_shape(const ir::Node& node) {
  if (!node.attrs.count("normalized_shape"))
    throw Error(node.where(), "attribute 'normalized_shape' is required");
  return ir::attr_ints(node, "normalized_shape", {});
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"normalized_shape", "eps"});
  read_eps(node);
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  if (node.inputs.size() >= 2) require_param(node, 1, "weight");
  if (node.inputs.size() == 3) require_param(node, 2, "bias");
  const ir::Shape& x = node.inputs[0]->shape;
  const std::vector<int64_t> shape = read_normalized_shape(node);
  bool ok = !shape.empty() && shape.size() <= x.size();
  for (size_t i = 0; ok && i < shape.size(); ++i)
    ok = shape[i] >= 1 && shape[i] == x[x.size() - shape.size() + i];
  if (!ok)
    throw Error(node.where(), "attribute 'normalized_shape' " + ir::attr_str(shape) +
                                  ": expected the last dims of x '" + node.inputs[0]->name +
                                  "' " + ir::shape_str(x));
  for (size_t i = 1; i < node.inputs.size(); ++i)
    require_shape(node, i, i == 1 ? "weight" : "bias", shape);
}

static ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  const size_t normalized = read_normalized_shape(node).size();
  int64_t M = 1, K = 1;
  for (size_t d = 0; d < x.size(); ++d) (d + normalized < x.size() ? M : K) *= x[d];
  const float eps = static_cast<float>(read_eps(node));
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const memory::desc rows = plain_desc({M, K});
    auto flags = dnnl::normalization_flags::none;
    if (node.inputs.size() >= 2) flags |= dnnl::normalization_flags::use_scale;
    if (node.inputs.size() == 3) flags |= dnnl::normalization_flags::use_shift;
    dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, rows, eps,
                                                 flags);
    dnnl::layer_normalization_forward::primitive_desc pd(desc, make_attr(), ctx.engine);
    Constants constants;
    if (node.inputs.size() >= 2)
      pack_param(constants, DNNL_ARG_SCALE, *node.inputs[1]->data, pd.weights_desc(), {K});
    if (node.inputs.size() == 3)
      pack_param(constants, DNNL_ARG_SHIFT, *node.inputs[2]->data, pd.weights_desc(), {K});
    auto kernel = std::make_unique<PrimitiveKernel>(
        dnnl::layer_normalization_forward(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, rows}}, pd.dst_desc(),
        pd.scratchpad_desc(), std::move(constants));
    return std::make_unique<ReshapedKernel>(std::move(kernel),
                                            std::vector<memory::desc>{plain_desc(x)},
                                            plain_desc(x), ctx.engine);
  });
}

void register_layer_norm(Registry& r) {
  r.add({"layer_norm", {1, 3, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
