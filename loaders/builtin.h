// Built-in models, so Kiln runs with nothing else installed.
//
//   resnet18  torchvision's ResNet18 exactly (20 conv+BN pairs, fc 512->1000),
//             input [N, 3, 224, 224]
//   tutorial  the FX fuser tutorial's model M: conv1 -> bn1 -> conv2 ->
//             nested.0 (BN) -> nested.1 (conv) -> wrapped.mod (BN), 1 channel, 1x1
//
// Weights come from a seeded generator (loaders/random.h): conv weights
// normal with std sqrt(1/fan_in) (ResNet18's logits then have std ~2),
// conv biases and linears uniform in +-1/sqrt(fan_in) (PyTorch's default
// bound); BN gamma U(0.5,1.5), beta U(-0.2,0.2), running mean U(-0.2,0.2),
// running var U(0.5,1.5): away from 0/1/1/0, so a wrong fold shows.
// Every batchnorm has eps 1e-5. Node names are torch.fx's with dots
// ("layer1.0.conv1"); FX's add/relu_1 in a block are "layer1.0.add" and
// "layer1.0.relu_1".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::loaders {

std::vector<std::string> builtin_names();
bool is_builtin(const std::string& name);
// Shapes are not inferred yet (as with load_model_dir). Throws on an unknown name.
ir::Graph builtin_model(const std::string& name, uint64_t seed = 0);

}  // namespace kiln::loaders
