// The built-in models, built node by node as torch.fx would trace them.
//
// Weights (seeded, see random.h):
//   conv weight    normal * sqrt(1 / fan_in)      LeCun normal. He's sqrt(2 / fan_in) assumes BN
//                                                  renormalises; with random BN statistics it
//                                                  compounds through the residual adds (ResNet18
//                                                  logits std ~50); this keeps them ~2.
//   conv bias      uniform +-1/sqrt(fan_in)       PyTorch's default bound
//   linear         uniform +-1/sqrt(fan_in)       weight and bias
//   batchnorm      gamma U(0.5, 1.5), beta U(-0.2, 0.2), running_mean U(-0.2, 0.2),
//                  running_var U(0.5, 1.5)         never the 0/1/1/0 defaults, so a wrong fold shows
#include "loaders/builtin.h"

#include <cmath>

#include "ir/error.h"
#include "loaders/random.h"

namespace kiln::loaders {

namespace {

constexpr double kEps = 1e-5;

// Adds nodes with their parameters under PyTorch's qualified names.
class Builder {
 public:
  explicit Builder(uint64_t seed) : rng_(seed) {}

  ir::Graph& graph() { return graph_; }

  ir::Value* conv2d(const std::string& name, ir::Value* x, int64_t in, int64_t out, int64_t kernel,
                    int64_t stride, int64_t padding, bool bias) {
    int64_t fan_in = in * kernel * kernel;
    ir::Tensor w({out, in, kernel, kernel});
    double sd = std::sqrt(1.0 / static_cast<double>(fan_in));
    for (float& v : w.data) v = static_cast<float>(rng_.normal() * sd);
    std::vector<ir::Value*> inputs = {x, graph_.add_param(name + ".weight", std::move(w))};
    if (bias) inputs.push_back(param(name + ".bias", {out}, 1.0 / std::sqrt(double(fan_in))));
    ir::Attrs attrs = {{"stride", std::vector<int64_t>{stride, stride}},
                       {"padding", std::vector<int64_t>{padding, padding}},
                       {"dilation", std::vector<int64_t>{1, 1}},
                       {"groups", int64_t(1)}};
    return graph_.add_node(name, "conv2d", inputs, attrs)->output;
  }

  // Inputs in Kiln's order: x, running_mean, running_var, weight (gamma), bias (beta).
  ir::Value* batchnorm(const std::string& name, ir::Value* x, int64_t channels) {
    ir::Shape c = {channels};
    ir::Value* mean = graph_.add_param(name + ".running_mean", random_tensor(c, rng_, -0.2, 0.2));
    ir::Value* var = graph_.add_param(name + ".running_var", random_tensor(c, rng_, 0.5, 1.5));
    ir::Value* gamma = graph_.add_param(name + ".weight", random_tensor(c, rng_, 0.5, 1.5));
    ir::Value* beta = graph_.add_param(name + ".bias", random_tensor(c, rng_, -0.2, 0.2));
    return graph_.add_node(name, "batchnorm", {x, mean, var, gamma, beta}, {{"eps", kEps}})->output;
  }

  ir::Value* linear(const std::string& name, ir::Value* x, int64_t in, int64_t out) {
    double bound = 1.0 / std::sqrt(double(in));
    ir::Value* w = param(name + ".weight", {out, in}, bound);
    ir::Value* b = param(name + ".bias", {out}, bound);
    return graph_.add_node(name, "linear", {x, w, b})->output;
  }

  ir::Value* node(const std::string& name, const std::string& op, std::vector<ir::Value*> inputs,
                  ir::Attrs attrs = {}) {
    return graph_.add_node(name, op, std::move(inputs), std::move(attrs))->output;
  }

 private:
  ir::Value* param(const std::string& name, const ir::Shape& shape, double bound) {
    return graph_.add_param(name, random_tensor(shape, rng_, -bound, bound));
  }

  Random rng_;
  ir::Graph graph_;
};

// torchvision's BasicBlock: conv3x3-bn-relu-conv3x3-bn, plus the identity
// (or a 1x1 conv + bn when the shape changes), then relu.
ir::Value* basic_block(Builder& b, const std::string& name, ir::Value* x, int64_t in, int64_t out,
                       int64_t stride) {
  ir::Value* y = b.conv2d(name + ".conv1", x, in, out, 3, stride, 1, false);
  y = b.batchnorm(name + ".bn1", y, out);
  y = b.node(name + ".relu", "relu", {y});
  y = b.conv2d(name + ".conv2", y, out, out, 3, 1, 1, false);
  y = b.batchnorm(name + ".bn2", y, out);
  ir::Value* identity = x;
  if (stride != 1 || in != out) {
    identity = b.conv2d(name + ".downsample.0", x, in, out, 1, stride, 0, false);
    identity = b.batchnorm(name + ".downsample.1", identity, out);
  }
  y = b.node(name + ".add", "add", {y, identity});
  return b.node(name + ".relu_1", "relu", {y});
}

ir::Graph resnet18(uint64_t seed) {
  Builder b(seed);
  ir::Value* x = b.graph().add_input("x", {ir::kBatch, 3, 224, 224});
  ir::Value* y = b.conv2d("conv1", x, 3, 64, 7, 2, 3, false);
  y = b.batchnorm("bn1", y, 64);
  y = b.node("relu", "relu", {y});
  y = b.node("maxpool", "max_pool2d", {y},
             {{"kernel", std::vector<int64_t>{3, 3}},
              {"stride", std::vector<int64_t>{2, 2}},
              {"padding", std::vector<int64_t>{1, 1}},
              {"dilation", std::vector<int64_t>{1, 1}},
              {"ceil_mode", int64_t(0)}});
  int64_t in = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer) {
    std::string name = "layer" + std::to_string(layer + 1);
    int64_t stride = layer == 0 ? 1 : 2;
    y = basic_block(b, name + ".0", y, in, widths[layer], stride);
    y = basic_block(b, name + ".1", y, widths[layer], widths[layer], 1);
    in = widths[layer];
  }
  y = b.node("avgpool", "global_avg_pool2d", {y});
  y = b.node("flatten", "flatten", {y}, {{"start_dim", int64_t(1)}});
  y = b.linear("fc", y, 512, 1000);
  b.graph().set_outputs({y});
  return std::move(b.graph());
}

// The FX conv/BN fuser tutorial's model M, traced.
ir::Graph tutorial(uint64_t seed) {
  Builder b(seed);
  ir::Value* x = b.graph().add_input("x", {ir::kBatch, 1, 1, 1});
  ir::Value* y = b.conv2d("conv1", x, 1, 1, 1, 1, 0, true);
  y = b.batchnorm("bn1", y, 1);
  y = b.conv2d("conv2", y, 1, 1, 1, 1, 0, true);
  y = b.batchnorm("nested.0", y, 1);
  y = b.conv2d("nested.1", y, 1, 1, 1, 1, 0, true);
  y = b.batchnorm("wrapped.mod", y, 1);
  b.graph().set_outputs({y});
  return std::move(b.graph());
}

}  // namespace

std::vector<std::string> builtin_names() { return {"resnet18", "tutorial"}; }

bool is_builtin(const std::string& name) {
  for (const std::string& n : builtin_names()) {
    if (n == name) return true;
  }
  return false;
}

ir::Graph builtin_model(const std::string& name, uint64_t seed) {
  if (name == "resnet18") return resnet18(seed);
  if (name == "tutorial") return tutorial(seed);
  std::string known;
  for (const std::string& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("builtin model '" + name + "'", "unknown; the built-in models are " + known);
}

}  // namespace kiln::loaders
