// The built-in models: structure (op counts, torch.fx names, parameter
// names), randomised weights, seeding, and that they shape-check with the ops.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "ops/registry.h"

using namespace kiln;
using loaders::builtin_model;

namespace {

std::vector<std::string> node_names(const ir::Graph& g) {
  std::vector<std::string> names;
  for (const auto& n : g.nodes()) names.push_back(n->name);
  return names;
}

bool all_equal(const ir::Tensor& t, float value) {
  for (float v : t.data) {
    if (v != value) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("builtin: resnet18 has torchvision's 20 conv2d, 20 batchnorm, 1 linear and 8 add") {
  ir::Graph g = builtin_model("resnet18");
  CHECK(g.count_op("conv2d") == 20);
  CHECK(g.count_op("batchnorm") == 20);
  CHECK(g.count_op("linear") == 1);
  CHECK(g.count_op("add") == 8);
  CHECK(g.count_op("relu") == 17);
  CHECK(g.count_op("max_pool2d") == 1);
  CHECK(g.count_op("global_avg_pool2d") == 1);
  CHECK(g.count_op("flatten") == 1);
  CHECK(g.nodes().size() == 69);
  REQUIRE(g.inputs().size() == 1);
  CHECK(g.inputs()[0]->name == "x");
  CHECK(g.inputs()[0]->shape == ir::Shape{ir::kBatch, 3, 224, 224});
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "fc");
}

TEST_CASE("builtin: resnet18's nodes carry torch.fx's names in traced order") {
  std::vector<std::string> names = node_names(builtin_model("resnet18"));
  std::vector<std::string> head = {"conv1", "bn1", "relu", "maxpool",
                                   "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu",
                                   "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add", "layer1.0.relu_1"};
  CHECK(std::vector<std::string>(names.begin(), names.begin() + head.size()) == head);
  std::vector<std::string> layer2 = {"layer2.0.conv1", "layer2.0.bn1", "layer2.0.relu",
                                     "layer2.0.conv2", "layer2.0.bn2", "layer2.0.downsample.0",
                                     "layer2.0.downsample.1", "layer2.0.add", "layer2.0.relu_1"};
  auto it = std::find(names.begin(), names.end(), "layer2.0.conv1");
  REQUIRE(it != names.end());
  CHECK(std::vector<std::string>(it, it + layer2.size()) == layer2);
  std::vector<std::string> tail = {"layer4.1.relu_1", "avgpool", "flatten", "fc"};
  CHECK(std::vector<std::string>(names.end() - tail.size(), names.end()) == tail);
  CHECK(std::count(names.begin(), names.end(), "layer1.0.downsample.0") == 0);
}

TEST_CASE("builtin: resnet18's blocks wire the shortcut as torchvision does") {
  ir::Graph g = builtin_model("resnet18");
  ir::Node* add = g.find_node("layer1.0.add");
  REQUIRE(add);
  REQUIRE(add->inputs.size() == 2);
  CHECK(add->inputs[0]->name == "layer1.0.bn2");
  CHECK(add->inputs[1]->name == "maxpool");
  ir::Node* add2 = g.find_node("layer2.0.add");
  REQUIRE(add2);
  CHECK(add2->inputs[1]->name == "layer2.0.downsample.1");
  ir::Node* down = g.find_node("layer2.0.downsample.0");
  REQUIRE(down);
  CHECK(down->inputs[0]->name == "layer1.1.relu_1");
  CHECK(std::get<std::vector<int64_t>>(down->attrs.at("stride")) == std::vector<int64_t>{2, 2});
  CHECK(down->inputs[1]->shape == ir::Shape{128, 64, 1, 1});
  ir::Node* conv1 = g.find_node("conv1");
  REQUIRE(conv1);
  CHECK(conv1->inputs.size() == 2);  // no bias
  CHECK(std::get<std::vector<int64_t>>(conv1->attrs.at("padding")) == std::vector<int64_t>{3, 3});
  CHECK(conv1->inputs[1]->shape == ir::Shape{64, 3, 7, 7});
  ir::Node* fc = g.find_node("fc");
  REQUIRE(fc);
  REQUIRE(fc->inputs.size() == 3);
  CHECK(fc->inputs[1]->name == "fc.weight");
  CHECK(fc->inputs[1]->shape == ir::Shape{1000, 512});
  CHECK(fc->inputs[2]->name == "fc.bias");
}

TEST_CASE("builtin: batchnorm parameters are named like PyTorch's and in Kiln's input order") {
  ir::Graph g = builtin_model("resnet18");
  ir::Node* bn = g.find_node("layer3.1.bn2");
  REQUIRE(bn);
  REQUIRE(bn->inputs.size() == 5);
  CHECK(bn->inputs[1]->name == "layer3.1.bn2.running_mean");
  CHECK(bn->inputs[2]->name == "layer3.1.bn2.running_var");
  CHECK(bn->inputs[3]->name == "layer3.1.bn2.weight");
  CHECK(bn->inputs[4]->name == "layer3.1.bn2.bias");
  CHECK(bn->inputs[1]->shape == ir::Shape{256});
  CHECK(std::get<double>(bn->attrs.at("eps")) == 1e-5);
}

TEST_CASE("builtin: tutorial is the FX fuser tutorial's M with 3 conv2d and 3 batchnorm") {
  ir::Graph g = builtin_model("tutorial");
  CHECK(g.count_op("conv2d") == 3);
  CHECK(g.count_op("batchnorm") == 3);
  CHECK(node_names(g) ==
        std::vector<std::string>{"conv1", "bn1", "conv2", "nested.0", "nested.1", "wrapped.mod"});
  CHECK(g.inputs()[0]->shape == ir::Shape{ir::kBatch, 1, 1, 1});
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0]->name == "wrapped.mod");
  for (const auto& n : g.nodes()) {
    if (n->op == "conv2d") CHECK(n->inputs.size() == 3);  // every conv has a bias
  }
}

TEST_CASE("builtin: batchnorm statistics and affine parameters are never the 0/1/1/0 defaults") {
  for (const std::string& name : loaders::builtin_names()) {
    CAPTURE(name);
    ir::Graph g = builtin_model(name, 3);
    for (const auto& n : g.nodes()) {
      if (n->op != "batchnorm") continue;
      CAPTURE(n->name);
      CHECK_FALSE(all_equal(*n->inputs[1]->data, 0.f));  // running_mean
      CHECK_FALSE(all_equal(*n->inputs[2]->data, 1.f));  // running_var
      CHECK_FALSE(all_equal(*n->inputs[3]->data, 1.f));  // gamma
      CHECK_FALSE(all_equal(*n->inputs[4]->data, 0.f));  // beta
      for (float v : n->inputs[2]->data->data) CHECK(v >= 0.5f);  // a variance, and not tiny
    }
  }
}

TEST_CASE("builtin: the seed decides the weights") {
  ir::Graph a = builtin_model("tutorial", 5);
  ir::Graph b = builtin_model("tutorial", 5);
  ir::Graph c = builtin_model("tutorial", 6);
  auto pa = a.params(), pb = b.params(), pc = c.params();
  REQUIRE(pa.size() == pc.size());
  bool differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    CHECK(pa[i]->data->data == pb[i]->data->data);
    differs = differs || pa[i]->data->data != pc[i]->data->data;
  }
  CHECK(differs);
}

TEST_CASE("builtin: an unknown name is refused listing the known ones") {
  CHECK(loaders::is_builtin("resnet18"));
  CHECK_FALSE(loaders::is_builtin("resnet50"));
  CHECK_THROWS_WITH_AS(builtin_model("resnet50"),
                       "builtin model 'resnet50': unknown; the built-in models are resnet18, tutorial",
                       Error);
}

TEST_CASE("builtin: both models infer shapes and verify with Kiln's ops") {
  ir::Graph g = builtin_model("resnet18");
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  CHECK(g.outputs()[0]->shape == ir::Shape{ir::kBatch, 1000});
  CHECK(g.find_value("layer4.1.relu_1")->shape == ir::Shape{ir::kBatch, 512, 7, 7});
  ir::Graph t = builtin_model("tutorial");
  ir::infer_shapes(t, ops::registry().schemas());
  ir::verify(t, ops::registry().schemas());
  CHECK(t.outputs()[0]->shape == ir::Shape{ir::kBatch, 1, 1, 1});
}
