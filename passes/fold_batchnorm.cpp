// fold_batchnorm: see fold_batchnorm.h for what it matches, refuses and guarantees.
//
// At inference a BatchNorm is an affine map per channel c:
//   y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]  =  x * s[c] + (beta[c] - mean[c] * s[c])
// with s = gamma / sqrt(var + eps). When x = W * in + b comes from a conv or
// linear whose output channel is dim 0 of W, the map moves into the weights:
//   W'[c] = W[c] * s[c],  b'[c] = (b[c] - mean[c]) * s[c] + beta[c].
#include "passes/fold_batchnorm.h"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "ir/attrs.h"
#include "ir/error.h"

namespace kiln::passes {

static std::string num_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// `t` must be a vector of `channels` finite numbers.
static void check_vector(const ir::Tensor& t, const std::string& what, int64_t channels,
                         const std::string& where) {
  if (t.shape != ir::Shape{channels} || t.numel() != channels)
    throw Error(where, what + ": expected shape " + ir::shape_str({channels}) + " (one per output "
                       "channel), got " + ir::shape_str(t.shape));
  for (int64_t c = 0; c < channels; ++c) {
    if (!std::isfinite(t.data[c]))
      throw Error(where, what + "[" + std::to_string(c) + "]: expected a finite number, got " +
                             num_str(t.data[c]));
  }
}

// A per-channel vector in double: `t`'s values, or `fallback` everywhere when it is absent.
static Eigen::VectorXd channel_vector(const ir::Tensor* t, int64_t channels, double fallback) {
  if (!t) return Eigen::VectorXd::Constant(channels, fallback);
  return Eigen::Map<const Eigen::VectorXf>(t->data.data(), channels).cast<double>();
}

// fold_bn_weights' checks, and s = gamma / sqrt(var + eps) per channel.
static Eigen::VectorXd checked_scales(const ir::Tensor& weight, const ir::Tensor* bias,
                                      const ir::Tensor& mean, const ir::Tensor& var, double eps,
                                      const ir::Tensor* gamma, const ir::Tensor* beta,
                                      const std::string& where) {
  if (weight.shape.empty() || weight.shape[0] <= 0 ||
      ir::shape_numel(weight.shape) != weight.numel())
    throw Error(where, "weight: expected a tensor with output channels in dim 0, got shape " +
                           ir::shape_str(weight.shape));
  const int64_t channels = weight.shape[0];
  if (!std::isfinite(eps)) throw Error(where, "eps: expected a finite number, got " + num_str(eps));
  if (bias) check_vector(*bias, "bias", channels, where);
  check_vector(mean, "running_mean", channels, where);
  check_vector(var, "running_var", channels, where);
  if (gamma) check_vector(*gamma, "weight (gamma)", channels, where);
  if (beta) check_vector(*beta, "bias (beta)", channels, where);

  Eigen::VectorXd scale = channel_vector(gamma, channels, 1.0);
  for (int64_t c = 0; c < channels; ++c) {
    double denom = static_cast<double>(var.data[c]) + eps;
    if (!(denom > 0))
      throw Error(where, "channel " + std::to_string(c) +
                             ": running_var + eps must be positive, got " + num_str(var.data[c]) +
                             " + " + num_str(eps));
    scale[c] /= std::sqrt(denom);
  }
  return scale;
}

FoldedWeights fold_bn_weights(ir::Tensor weight, const ir::Tensor* bias,
                              const ir::Tensor& mean, const ir::Tensor& var, double eps,
                              const ir::Tensor* gamma, const ir::Tensor* beta,
                              const std::string& where) {
  const Eigen::VectorXd scale = checked_scales(weight, bias, mean, var, eps, gamma, beta, where);
  const int64_t channels = weight.shape[0];
  FoldedWeights out{std::move(weight), ir::Tensor(ir::Shape{channels})};
  // The weight as [OC, rest], row c scaled by s[c]: each product in double,
  // rounded once to float32, in place.
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> rows(
      out.weight.data.data(), channels, out.weight.numel() / channels);
  rows = (scale.asDiagonal() * rows.cast<double>()).cast<float>();
  // b' = (b - mean) * s + beta
  Eigen::Map<Eigen::VectorXf>(out.bias.data.data(), channels) =
      ((channel_vector(bias, channels, 0.0) - channel_vector(&mean, channels, 0.0))
           .cwiseProduct(scale) +
       channel_vector(beta, channels, 0.0))
          .cast<float>();
  return out;
}

// Why `bn` cannot be folded into the node producing its input; "" if it can.
static std::string refusal(const ir::Graph& graph, const ir::Node& bn) {
  const ir::Value* x = bn.inputs.at(0);
  const ir::Node* producer = x->producer;
  if (!producer) return "input '" + x->name + "' is a graph input, not produced by conv2d or linear";
  if (producer->op != "conv2d" && producer->op != "linear")
    return "input '" + x->name + "' is produced by " + producer->op + ", not conv2d or linear";

  const std::string who = producer->op + " '" + producer->name + "'";
  if (x->users.size() != 1)
    return "the output of " + who + " has " + std::to_string(x->users.size()) + " users (" +
           x->user_names() + "); folding would change what the others read";
  if (graph.is_output(x))
    return "the output of " + who + " is also a graph output; folding would change it";
  size_t rank = producer->op == "conv2d" ? 4 : 2;
  if (x->shape.size() != rank)
    return "input '" + x->name + "' has rank " + std::to_string(x->shape.size()) + ", but " +
           producer->op + " -> batchnorm folds only on rank " + std::to_string(rank);

  const char* names[] = {"x", "weight", "bias"};
  for (size_t i = 1; i < producer->inputs.size() && i < 3; ++i) {
    const ir::Value* p = producer->inputs[i];
    if (!p->is_param()) return who + ": " + names[i] + " '" + p->name + "' is not a parameter";
    if (p->users.size() != 1)
      return who + ": " + names[i] + " '" + p->name + "' is also used by " +
             p->user_names(producer);
  }
  for (size_t i = 1; i < bn.inputs.size(); ++i) {
    if (!bn.inputs[i]->is_param())
      return "input " + std::to_string(i) + " '" + bn.inputs[i]->name + "' is not a parameter";
  }
  if (bn.inputs.size() != 3 && bn.inputs.size() != 5)
    return "expected 3 or 5 inputs, got " + std::to_string(bn.inputs.size());
  return "";
}

// Bakes `bn` into the conv/linear producing its input and erases it.
static void fold_one(ir::Graph& graph, ir::Node* bn) {
  ir::Node* producer = bn->inputs[0]->producer;
  const bool has_bias = producer->inputs.size() > 2;
  const ir::Tensor* gamma = bn->inputs.size() == 5 ? bn->inputs[3]->data.get() : nullptr;
  const ir::Tensor* beta = bn->inputs.size() == 5 ? bn->inputs[4]->data.get() : nullptr;
  // The weight is rescaled in place when its Value holds the only reference
  // (a model loaded and fused, not a clone sharing it): no new 46 MB for
  // ResNet18. The old Value is erased below, unused, so the move is unseen;
  // a shared weight is copied.
  const std::shared_ptr<const ir::Tensor>& old_weight = producer->inputs[1]->data;
  const ir::Tensor* bias = has_bias ? producer->inputs[2]->data.get() : nullptr;
  const double eps = ir::attr_real(*bn, "eps", 1e-5);
  // Checked first, so that a refused fold leaves the weight where it was.
  checked_scales(*old_weight, bias, *bn->inputs[1]->data, *bn->inputs[2]->data, eps, gamma, beta,
                 bn->where());
  ir::Tensor weight_in;
  if (old_weight.use_count() == 1)
    weight_in = std::move(const_cast<ir::Tensor&>(*old_weight));
  else
    weight_in = *old_weight;
  FoldedWeights folded = fold_bn_weights(std::move(weight_in), bias, *bn->inputs[1]->data,
                                         *bn->inputs[2]->data, eps, gamma, beta, bn->where());

  ir::Value* new_weight =
      graph.add_param(graph.unique_name(producer->name + ".weight_folded"), std::move(folded.weight));
  ir::Value* new_bias =
      graph.add_param(graph.unique_name(producer->name + ".bias_folded"), std::move(folded.bias));
  graph.set_input(producer, 1, new_weight);
  if (has_bias) {
    graph.set_input(producer, 2, new_bias);
  } else {
    graph.add_input_to(producer, new_bias);
  }
  graph.replace_all_uses(bn->output, producer->output);
  graph.erase_node(bn);
}

PassReport fold_batchnorm(ir::Graph& graph) {
  PassReport report;
  for (ir::Node* bn : graph.nodes_of_op("batchnorm")) {
    std::string reason = refusal(graph, *bn);
    if (!reason.empty()) {
      report.skipped.push_back({bn->name, reason});
      continue;
    }
    std::string conv = bn->inputs[0]->producer->name;
    report.changed.push_back(bn->name + " into " + conv);
    report.replaced.push_back({bn->name, conv});
    fold_one(graph, bn);
  }
  graph.erase_unused_params();
  return report;
}

}  // namespace kiln::passes
