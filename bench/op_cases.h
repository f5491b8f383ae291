// One list of single-op cases at ResNet18's shapes (224x224 input), named
// like "conv2d/N=1,IC=64,H=56,K=3,S=1". bench/ops_bench.cpp times each one at
// batch 1 and 10; tests/bench/op_cases_test.cpp runs each one at batch 1
// against a reference in double, under the same names. Both build the graph
// with op_case_graph() and its inputs with op_case_inputs(), and run the
// cases op_case_runs_winograd() picks on Kiln's Winograd kernel too, named
// "<case>,kiln-winograd".
//
// Header-only so that the test target can include it without linking bench/.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "ir/graph.h"
#include "loaders/random.h"

namespace kiln::bench {

struct OpCase {
  std::string name;              // "conv2d/N=1,IC=64,H=56,K=3,S=1"
  std::string op;                // as in graph.json
  std::vector<ir::Shape> inputs;  // activation inputs
  std::vector<ir::Shape> params;  // parameters, in the op's input order after the activations
  ir::Attrs attrs;
  int64_t flops = 0;             // 2 * multiply-adds for conv2d and linear, else 0
};

inline std::vector<int64_t> op_case_pair(int64_t v) { return {v, v}; }

// conv2d without bias, as in ResNet18 (the BN after it supplies the shift).
// The name leaves out OC when it equals IC, and P (always K / 2 here).
inline OpCase conv2d_case(int64_t n, int64_t ic, int64_t oc, int64_t h, int64_t k, int64_t s) {
  int64_t pad = k / 2;
  int64_t oh = (h + 2 * pad - k) / s + 1;
  std::string name = "conv2d/N=" + std::to_string(n) + ",IC=" + std::to_string(ic) +
                     (oc != ic ? ",OC=" + std::to_string(oc) : "") + ",H=" + std::to_string(h) +
                     ",K=" + std::to_string(k) + ",S=" + std::to_string(s);
  ir::Attrs attrs = {{"stride", op_case_pair(s)}, {"padding", op_case_pair(pad)},
                     {"dilation", op_case_pair(1)}, {"groups", int64_t(1)}};
  int64_t flops = 2 * n * oc * oh * oh * ic * k * k;
  return {name, "conv2d", {{n, ic, h, h}}, {{oc, ic, k, k}}, attrs, flops};
}

// Name for an op on one [N, C, H, H] activation: "relu/N=1,C=64,H=56".
inline std::string op_case_name(const std::string& op, int64_t n, int64_t c, int64_t h) {
  return op + "/N=" + std::to_string(n) + ",C=" + std::to_string(c) + ",H=" + std::to_string(h);
}

// Every op ResNet18 runs, at the shapes it runs them, for batch n; then two
// elementwise cases of the mobile nets (MobileNetV3, EfficientNet).
inline std::vector<OpCase> resnet18_op_cases(int64_t n) {
  std::vector<OpCase> cases;
  // The 7x7 stem, then each stage's 3x3 convs; a stage's first conv halves H
  // and doubles the channels, and its 1x1 downsample conv does the same.
  cases.push_back(conv2d_case(n, 3, 64, 224, 7, 2));
  cases.push_back(conv2d_case(n, 64, 64, 56, 3, 1));
  const int64_t widths[3] = {128, 256, 512};
  const int64_t sizes[3] = {28, 14, 7};
  for (int i = 0; i < 3; ++i) {
    int64_t c = widths[i], h = sizes[i];
    cases.push_back(conv2d_case(n, c / 2, c, 2 * h, 3, 2));
    cases.push_back(conv2d_case(n, c, c, h, 3, 1));
    cases.push_back(conv2d_case(n, c / 2, c, 2 * h, 1, 2));
  }

  // Element-wise ops at every activation shape they see: [N, 64, 112, 112]
  // after the stem, then one shape per stage. add is the residual add.
  const int64_t act_c[5] = {64, 64, 128, 256, 512};
  const int64_t act_h[5] = {112, 56, 28, 14, 7};
  for (int i = 0; i < 5; ++i) {
    int64_t c = act_c[i], h = act_h[i];
    ir::Shape x = {n, c, h, h};
    cases.push_back({op_case_name("batchnorm", n, c, h), "batchnorm", {x}, {{c}, {c}, {c}, {c}},
                     {{"eps", 1e-5}}, 0});
    cases.push_back({op_case_name("relu", n, c, h), "relu", {x}, {}, {}, 0});
    if (i > 0) cases.push_back({op_case_name("add", n, c, h), "add", {x, x}, {}, {}, 0});
  }

  cases.push_back({op_case_name("max_pool2d", n, 64, 112) + ",K=3,S=2", "max_pool2d",
                   {{n, 64, 112, 112}}, {},
                   {{"kernel", op_case_pair(3)}, {"stride", op_case_pair(2)},
                    {"padding", op_case_pair(1)}, {"dilation", op_case_pair(1)},
                    {"ceil_mode", int64_t(0)}},
                   0});
  cases.push_back({op_case_name("global_avg_pool2d", n, 512, 7), "global_avg_pool2d",
                   {{n, 512, 7, 7}}, {}, {}, 0});
  cases.push_back({"linear/N=" + std::to_string(n) + ",IN=512,OUT=1000", "linear", {{n, 512}},
                   {{1000, 512}, {1000}}, {}, 2 * n * 512 * 1000});

  // Beyond ResNet18: a squeeze-excitation gate, x * s with s [N, C, 1, 1]
  // broadcast, and MobileNetV3's stem activation.
  cases.push_back({op_case_name("mul", n, 96, 14) + ",gate", "mul",
                   {{n, 96, 14, 14}, {n, 96, 1, 1}}, {}, {}, 0});
  cases.push_back(
      {op_case_name("hardswish", n, 16, 112), "hardswish", {{n, 16, 112, 112}}, {}, {}, 0});
  return cases;
}

// A conv that Winograd computes: 3x3, stride 1 (ResNet18's have one group, dilation 1).
inline bool op_case_runs_winograd(const OpCase& c) {
  return c.op == "conv2d" && c.params[0][2] == 3 && c.params[0][3] == 3 &&
         std::get<std::vector<int64_t>>(c.attrs.at("stride")) == op_case_pair(1);
}

// A graph with the case's inputs ("x0", "x1", ...), seeded parameters
// (BatchNorm variances in [0.5, 1.5), everything else in [-0.5, 0.5)) and one
// node named after the op, whose output is the graph output. Shapes are not
// inferred yet (engine::compile() does it; call ir::infer_shapes() to check).
inline ir::Graph op_case_graph(const OpCase& c, uint64_t seed) {
  loaders::Random rng(seed);
  ir::Graph g;
  std::vector<ir::Value*> inputs;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    inputs.push_back(g.add_input("x" + std::to_string(i), c.inputs[i]));
  for (size_t i = 0; i < c.params.size(); ++i) {
    bool variance = c.op == "batchnorm" && i == 1;
    double lo = variance ? 0.5 : -0.5, hi = variance ? 1.5 : 0.5;
    std::string name = c.op + ".p" + std::to_string(i);
    inputs.push_back(g.add_param(name, loaders::random_tensor(c.params[i], rng, lo, hi)));
  }
  ir::Node* node = g.add_node(c.op, c.op, inputs, c.attrs);
  g.set_outputs({node->output});
  return g;
}

// Seeded inputs for the case, uniform in [-1, 1).
inline std::vector<ir::Tensor> op_case_inputs(const OpCase& c, uint64_t seed) {
  loaders::Random rng(seed);
  std::vector<ir::Tensor> inputs;
  for (const ir::Shape& shape : c.inputs)
    inputs.push_back(loaders::random_tensor(shape, rng, -1, 1));
  return inputs;
}

}  // namespace kiln::bench
