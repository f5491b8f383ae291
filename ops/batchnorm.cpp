// batchnorm: inference-mode batch normalisation, as torch.nn.BatchNorm2d/1d in eval().
//
//   y[n, c, ...] = (x[n, c, ...] - running_mean[c]) / sqrt(running_var[c] + eps)
//                  * weight[c] + bias[c]
//   (weight taken as 1 and bias as 0 when the node has neither)
//
// inputs   x             activation [N, C, H, W] or [N, C]
//          running_mean  parameter  [C]
//          running_var   parameter  [C]
//          weight        parameter  [C], optional (gamma)
//          bias          parameter  [C], optional (beta); present exactly when weight is
// output   y             same shape as x
// attrs    eps         real >= 0  default 1e-5
//          activation  "none", "relu" or "leaky_relu" (with activation_negative_slope),
//                      as conv2d's; default "none": y = activation(y) as a oneDNN
//                      post-op (set by fuse_conv_activation)
//
// Runs in whatever layout x arrives in, so after a conv it works on the
// conv's blocked layout with no reorder: an unfused model pays only for the
// normalisation itself. oneDNN 2.6 takes gamma and beta as one 2 x C
// "scale_shift" memory.
//
// oneDNN 2.6's batch normalization takes one post-op, and only a relu (with
// any negative slope in inference): hence the two activations it applies.
// Fused, a DenseNet's concat -> batchnorm -> relu reads and writes the
// normalised tensor once instead of twice.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/batchnorm.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

const std::vector<std::string>& batchnorm_activations() {
  static const std::vector<std::string> names = {"relu", "leaky_relu"};
  return names;
}

void validate_batchnorm(const ir::Node& node, size_t first, int64_t C) {
  std::vector<std::string> known = post_op_activation_attr_names();
  known.push_back("eps");
  ir::check_known_attrs(node, known);
  const double eps = read_eps(node);
  post_op_activation_steps(node);  // checks the name and its activation_* attributes
  const std::string activation = ir::attr_string(node, "activation", "none");
  const std::vector<std::string>& takes = batchnorm_activations();
  if (activation != "none" && std::find(takes.begin(), takes.end(), activation) == takes.end())
    throw Error(node.where(), "attribute 'activation': " + node.op + " applies only \"relu\" or "
                             "\"leaky_relu\" as a post-op, got \"" + activation + "\"");
  const size_t params = node.inputs.size() - first;
  if (params == 3)
    throw Error(node.where(), "expected weight and bias both or neither, got " +
                                  std::to_string(node.inputs.size()) + " inputs");
  if (params != 2 && params != 4)
    throw Error(node.where(), "expected running_mean, running_var and optionally weight and "
                              "bias after the activations, got " + std::to_string(params) +
                              " inputs after them");
  const char* names[] = {"running_mean", "running_var", "weight", "bias"};
  for (size_t i = 0; i < params; ++i) {
    require_param(node, first + i, names[i]);
    const ir::Shape& s = node.inputs[first + i]->shape;
    if (s != ir::Shape{C})
      throw Error(node.where(), std::string(names[i]) + " '" + node.inputs[first + i]->name +
                                    "': expected shape [" + std::to_string(C) +
                                    "] (" + (first == 1 ? "x has " : "the inputs have ") +
                                    std::to_string(C) + " channels), got " +
                                    ir::shape_str(s));
  }
  // Caught here, not only by the fold: an unfused run would give NaN.
  const ir::Tensor& var = *node.inputs[first + 1]->data;
  for (int64_t c = 0; c < C; ++c) {
    if (!std::isfinite(var.data[c]) || !(var.data[c] + eps > 0))
      throw Error(node.where(), "running_var '" + node.inputs[first + 1]->name + "': channel " +
                                    std::to_string(c) + ": running_var + eps must be positive, got " +
                                    ir::attr_str(double(var.data[c])) + " + " + ir::attr_str(eps));
  }
}

ChannelAffine batchnorm_affine(const ir::Node& node, size_t first) {
  const double eps = read_eps(node);
  const ir::TensorData& mean = node.inputs[first]->data->data;
  const ir::TensorData& var = node.inputs[first + 1]->data->data;
  const bool affine = node.inputs.size() == first + 4;
  ChannelAffine out;
  for (size_t c = 0; c < mean.size(); ++c) {
    const double gamma = affine ? node.inputs[first + 2]->data->data[c] : 1.0;
    const double beta = affine ? node.inputs[first + 3]->data->data[c] : 0.0;
    const double scale = gamma / std::sqrt(double(var[c]) + eps);
    out.scale.push_back(static_cast<float>(scale));
    out.shift.push_back(static_cast<float>(beta - double(mean[c]) * scale));
  }
  return out;
}

static void validate(const ir::Node& node) {
  require_activation(node, 0, "x");
  const ir::Shape& x = node.inputs[0]->shape;
  if (x.size() != 4 && x.size() != 2)
    throw Error(node.where(), "x '" + node.inputs[0]->name +
                                  "': expected rank 4 [N, C, H, W] or rank 2 [N, C], got shape " +
                                  ir::shape_str(x));
  for (size_t d = 1; d < x.size(); ++d) {
    if (x[d] < 1)
      throw Error(node.where(), "x '" + node.inputs[0]->name +
                                    "': expected positive dimensions after the batch, got " +
                                    ir::shape_str(x));
  }
  validate_batchnorm(node, 1, x[1]);
}

static ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const float eps = static_cast<float>(read_eps(node));
  const bool affine = node.inputs.size() == 5;
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const dnnl::memory::desc& x = ctx.input_descs.at(0);
    auto flags = dnnl::normalization_flags::use_global_stats;
    if (affine) flags |= dnnl::normalization_flags::use_scale_shift;
    dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, x, eps,
                                                 flags);
    dnnl::post_ops post_ops;
    append_activation(post_ops, post_op_activation_steps(node));
    dnnl::batch_normalization_forward::primitive_desc pd(desc, make_attr(post_ops), ctx.engine);

    Constants constants;
    pack_param(constants, DNNL_ARG_MEAN, *node.inputs[1]->data, pd.mean_desc());
    pack_param(constants, DNNL_ARG_VARIANCE, *node.inputs[2]->data, pd.variance_desc());
    if (affine) {
      // Row 0 is gamma, row 1 is beta.
      const ir::TensorData& gamma = node.inputs[3]->data->data;
      const ir::TensorData& beta = node.inputs[4]->data->data;
      ir::Tensor scale_shift({2, static_cast<int64_t>(gamma.size())});
      std::copy(gamma.begin(), gamma.end(), scale_shift.data.begin());
      std::copy(beta.begin(), beta.end(), scale_shift.data.begin() + gamma.size());
      pack_param(constants, DNNL_ARG_SCALE_SHIFT, scale_shift, pd.weights_desc());
    }
    auto kernel = std::make_unique<PrimitiveKernel>(
        dnnl::batch_normalization_forward(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, x}}, pd.dst_desc(),
        pd.scratchpad_desc(), std::move(constants));
    kernel->allow_overwriting_input(0);  // oneDNN's batch normalization runs in place
    return kernel;
  });
}

void register_batchnorm(Registry& r) {
  ir::OpSchema schema{3, 5, validate, infer_shape};
  schema.takes_activations = batchnorm_activations();
  r.add({"batchnorm", schema, compile});
}

}  // namespace kiln::ops
