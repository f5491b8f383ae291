// Patterns of several ONNX nodes that are one Kiln op, found before the
// nodes are converted. torch.onnx (opsets 11 to 17, which have no Gelu)
// writes F.gelu as
//   d = Div(x, sqrt 2); e = Erf(d); a = Add(e, 1); m = Mul(x, a); y = Mul(m, 0.5)
// (each Add and Mul in either operand order, the scalars as initializers or
// Constant nodes). The nodes d, e, a and m must have no other reader.
//
// Below opset 17 (no LayerNormalization) it writes F.layer_norm over the
// last k dims as
//   m = ReduceMean(x, axes [-k..-1]); d = Sub(x, m); p = Pow(d, 2);
//   v = ReduceMean(p, axes [-k..-1]); e = Add(v, eps); s = Sqrt(e);
//   n = Div(d, s); [w = Mul(n, weight); [y = Add(w, bias)]]
// (both ReduceMeans keepdims 1; the Mul and Add in either operand order,
// their other operand a constant). d is read by the Pow and the Div only,
// every other value inside by the next node only.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace kiln::loaders::from_onnx {

struct GeluMatch {
  size_t last = 0;      // the final Mul: converted as gelu(x)
  std::string x;        // the GELU's input
  std::vector<size_t> inner;  // the Div, Erf, Add and first Mul: not converted
};

struct LayerNormMatch {
  size_t last = 0;            // the Div, or the Mul or Add after it: converted as layer_norm
  std::string x;              // the input
  std::string weight, bias;   // the affine constants; empty when absent
  int64_t axis = -1;          // the first normalised dim, counted from the end
  float eps = 0.f;
  std::vector<size_t> inner;  // the other nodes: not converted
};

// The value of a float32 scalar constant by name, if it is one.
using ScalarLookup = std::function<std::optional<float>(const std::string&)>;

// Every GELU in `graph`. `producer` maps a value to the index of the node
// computing it, `readers` counts the nodes (and graph outputs) reading it.
std::vector<GeluMatch> find_gelus(const ::onnx::GraphProto& graph,
                                  const std::unordered_map<std::string, size_t>& producer,
                                  const std::unordered_map<std::string, size_t>& readers,
                                  const ScalarLookup& scalar);

// Every decomposed LayerNorm in `graph`; `is_constant` says whether a value is
// an initializer or a Constant node's output.
std::vector<LayerNormMatch> find_layer_norms(
    const ::onnx::GraphProto& graph, const std::unordered_map<std::string, size_t>& producer,
    const std::unordered_map<std::string, size_t>& readers, const ScalarLookup& scalar,
    const std::function<bool(const std::string&)>& is_constant);

// A Constant node's value when it is a float32 scalar.
std::optional<float> constant_node_scalar(const ::onnx::NodeProto& node);

}  // namespace kiln::loaders::from_onnx
