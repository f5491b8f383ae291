// The conversion of one ONNX graph: its state, and the view of one node that
// each op's handler (handlers.h) gets.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "loaders/onnx/tensors.h"

namespace kiln::loaders::from_onnx {

// Thrown by a handler for an ONNX feature Kiln cannot run yet (an op or an
// attribute value); the conversion lists every such node in one error.
struct Unsupported {
  std::string reason;
};

// Thrown by OnnxNode when an input is unknown (see Entry): the node is
// skipped without a report of its own, and its outputs are unknown too.
struct UnknownInput {};

// What an ONNX value name stands for: an activation (a graph input or a Kiln
// node's output), a constant, or neither: unknown, because a node before it
// cannot run. An unknown value is `runtime` when it is surely computed at
// run time (an activation), not a constant whose value is missing (the
// shape of an unknown activation); handlers then still see that it is not
// a constant, so a Concat of it is reported, and a Shape of it is not.
//
// A Pad by zeros of an image's height and width is kept pending: its output's
// entry is the input's `value` with `zero_pads` [top, left, bottom, right],
// and only a Conv or AveragePool reading it takes the padding in (their own
// padding grows); any other reader refuses it.
struct Entry {
  ir::Value* value = nullptr;
  std::shared_ptr<const Constant> constant;
  bool runtime = false;
  std::vector<int64_t> zero_pads = {};  // empty, or a pending Pad's [top, left, bottom, right]

  bool known() const { return value || constant; }
};

// The state shared by all nodes of one conversion.
struct Conversion {
  Conversion(const ir::OpTable& table, TensorFiles tensor_files)
      : ops(table), files(std::move(tensor_files)) {}

  const ir::OpTable& ops;
  TensorFiles files;
  ir::Graph graph;
  std::unordered_map<std::string, Entry> values;            // by ONNX value name
  std::unordered_set<std::string> names;                    // Kiln names taken
  std::unordered_map<const Constant*, ir::Value*> params;   // constants made parameters
  // Parameters derived from a constant (transposed, scaled), by constant and
  // how, so a weight shared by many nodes is derived once.
  std::map<std::pair<const Constant*, std::string>, ir::Value*> derived;
  // Float32 bytes the model holds (initializers, Constant nodes) and bytes
  // the conversion copied into new tensors: the copies may not outgrow the
  // model (kMaxDerivedBytes beyond it), whatever a hostile graph asks for.
  uint64_t weight_bytes = 0;
  uint64_t copied_bytes = 0;
  void count_copy(uint64_t bytes, const std::string& where);

  // `base` if no Kiln value has it yet, else base_1, base_2, ...; taken.
  std::string take_name(const std::string& base);
};

// One ONNX node, as its handler sees it. Input and output indices are the
// ONNX ones; an optional input may be absent or named "" (omitted).
class OnnxNode {
 public:
  OnnxNode(Conversion& conversion, const ::onnx::NodeProto& proto, int64_t opset);

  const ::onnx::NodeProto& proto() const { return proto_; }
  const std::string& name() const { return name_; }  // the node's name, or its first output's
  int64_t opset() const { return opset_; }
  const TensorFiles& files() const { return conv_.files; }
  // "model.onnx: node '/conv1/Conv' (Conv)", the prefix of every error about it.
  std::string where() const;
  // Bad input: a one-line kiln::Error naming the node.
  [[noreturn]] void fail(const std::string& what) const;
  // A feature Kiln lacks: listed with the other unsupported nodes.
  [[noreturn]] void unsupported(const std::string& why) const;

  // --- inputs (each throws UnknownInput where an unknown input leaves it no answer)
  bool has_input(size_t i) const;  // present and not omitted
  const std::string& input_name(size_t i) const;
  bool is_constant(size_t i) const;
  // Input i as an activation: its shape is known. Unsupported if a constant,
  // or a pending Pad's output (see Entry).
  ir::Value* activation(size_t i) const;
  // The same, taking a pending Pad's zeros in: *pads becomes [top, left,
  // bottom, right] (all 0 when the input is not padded).
  ir::Value* padded_activation(size_t i, std::vector<int64_t>* pads) const;
  // Input i as a constant (fails if it is computed at run time).
  std::shared_ptr<const Constant> constant(size_t i) const;
  // An integer constant's values.
  const std::vector<int64_t>& ints(size_t i) const;
  // A float32 constant input as a Kiln parameter, made once per constant.
  ir::Value* param(size_t i);
  // A parameter derived from constant input i (transposed, scaled, ...):
  // `make()` runs once per constant and `how` (e.g. "transposed, x0.5").
  ir::Value* derived_param(size_t i, const std::string& how, const std::function<ir::Tensor()>& make);
  // Counts the float32 bytes of a constant the model holds (a Constant node's value).
  void count_weight_bytes(const Constant& c);
  // Counts bytes the conversion copies (a folded constant), within the limit.
  void count_copy(uint64_t bytes);

  // --- outputs
  // Appends a Kiln node named after this one (its output is output 0) and
  // infers its shape; Kiln's own checks of the op run here.
  ir::Value* add_node(const std::string& op, std::vector<ir::Value*> inputs, ir::Attrs attrs = {});
  // The same, computing ONNX output `output` (Split's pieces).
  ir::Value* add_node_at(size_t output, const std::string& op, std::vector<ir::Value*> inputs, ir::Attrs attrs);
  void alias(size_t output, size_t input);  // output stands for what input stands for
  // Output `output` is activation input `input` padded by zeros, pending (see Entry).
  void alias_zero_padded(size_t output, size_t input, std::vector<int64_t> pads);
  void set_constant(size_t output, Constant constant);

  // --- attributes (each read checks the type and names the node)
  // Refuses an attribute not in `known`.
  void check_attrs(std::initializer_list<const char*> known) const;
  bool has_attr(const std::string& name) const;
  const ::onnx::AttributeProto* attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name, const std::vector<int64_t>& fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;

 private:
  const Entry& entry(size_t i) const;

  Conversion& conv_;
  const ::onnx::NodeProto& proto_;
  int64_t opset_;
  std::string name_;
};

// "[-1, 0, 2]": integers as written (ir::shape_str would print -1 as N).
std::string list_str(const std::vector<int64_t>& values);

// The attribute's type, inferred from the field that is set when the
// producer left `type` out.
int attribute_type(const ::onnx::AttributeProto& a);

}  // namespace kiln::loaders::from_onnx

namespace kiln::loaders::from_onnx {

// Opset versions by domain; the default domain ("" or "ai.onnx") is "".
using Opsets = std::unordered_map<std::string, int64_t>;

// Converts `graph` (its initializers' raw bytes are released as they are
// read). Throws kiln::Error for a malformed graph, and one kiln::Error listing
// every node Kiln cannot run.
ir::Graph convert_graph(::onnx::GraphProto& graph, const Opsets& opsets, const ir::OpTable& ops,
                        const TensorFiles& files);

}  // namespace kiln::loaders::from_onnx
