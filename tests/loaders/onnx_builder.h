// Builds ONNX models in C++ with ONNX's protobuf classes, for the loader's
// tests and the hostile catalogue (no Python needed).
//
//   onnx::ModelProto m = onnx_build::model(13);
//   onnx_build::input(m, "x", {-1, 3, 8, 8});          // -1: the symbolic batch
//   auto* conv = onnx_build::node(m, "Conv", {"x", "w"}, {"y"}, "conv");
//   onnx_build::ints(conv, "pads", {1, 1, 1, 1});
//   onnx_build::weight(m, "w", {4, 3, 3, 3}, seed);
//   onnx_build::output(m, "y");
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "loaders/random.h"

namespace kiln::test::onnx_build {

inline ::onnx::ModelProto model(int64_t opset = 13) {
  ::onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("kiln tests");
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m.mutable_graph()->set_name("test");
  return m;
}

// A float32 tensor value (graph input or output); -1 dims are symbolic ("batch").
inline void set_type(::onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) shape->add_dim()->set_dim_param("batch");
    else shape->add_dim()->set_dim_value(d);
  }
}

inline void input(::onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims) {
  set_type(m.mutable_graph()->add_input(), name, dims);
}

inline void output(::onnx::ModelProto& m, const std::string& name) {
  m.mutable_graph()->add_output()->set_name(name);
}

inline ::onnx::NodeProto* node(::onnx::ModelProto& m, const std::string& op,
                               const std::vector<std::string>& inputs,
                               const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline void ints(::onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

inline void integer(::onnx::NodeProto* n, const std::string& name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(value);
}

inline void real(::onnx::NodeProto* n, const std::string& name, float value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

inline void text(::onnx::NodeProto* n, const std::string& name, const std::string& value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(value);
}

// A float32 initializer with these values, stored as raw_data.
inline ::onnx::TensorProto* tensor(::onnx::ModelProto& m, const std::string& name,
                                   const std::vector<int64_t>& dims, const std::vector<float>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

inline std::vector<float> random_values(size_t count, uint64_t seed, double lo = -0.5, double hi = 0.5) {
  loaders::Random rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

// A float32 initializer of seeded random values in [lo, hi).
inline ::onnx::TensorProto* weight(::onnx::ModelProto& m, const std::string& name,
                                   const std::vector<int64_t>& dims, uint64_t seed, double lo = -0.5,
                                   double hi = 0.5) {
  size_t count = 1;
  for (int64_t d : dims) count *= static_cast<size_t>(d);
  return tensor(m, name, dims, random_values(count, seed, lo, hi));
}

// An int64 initializer (shapes, axes).
inline ::onnx::TensorProto* int_tensor(::onnx::ModelProto& m, const std::string& name,
                                       const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return t;
}

// x [N, 3, 8, 8] -> conv (4 channels, 3x3, pads 1) -> bn -> relu -> maxpool 2
// -> global average pool -> flatten -> gemm (transB, 4 -> 5) -> y: a small
// CNN as torch.onnx writes it, BN kept, statistics and affine randomised.
inline ::onnx::ModelProto small_cnn(int64_t opset = 13) {
  ::onnx::ModelProto m = model(opset);
  input(m, "x", {-1, 3, 8, 8});
  auto* conv = node(m, "Conv", {"x", "conv.weight", "conv.bias"}, {"c"}, "/conv/Conv");
  ints(conv, "kernel_shape", {3, 3});
  ints(conv, "pads", {1, 1, 1, 1});
  ints(conv, "strides", {1, 1});
  auto* bn = node(m, "BatchNormalization", {"c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
                  {"b"}, "/bn/BatchNormalization");
  real(bn, "epsilon", 1e-5f);
  node(m, "Relu", {"b"}, {"r"}, "/relu/Relu");
  auto* pool = node(m, "MaxPool", {"r"}, {"p"}, "/pool/MaxPool");
  ints(pool, "kernel_shape", {2, 2});
  ints(pool, "strides", {2, 2});
  node(m, "GlobalAveragePool", {"p"}, {"g"}, "/gap/GlobalAveragePool");
  node(m, "Flatten", {"g"}, {"f"}, "/Flatten");
  auto* gemm = node(m, "Gemm", {"f", "fc.weight", "fc.bias"}, {"y"}, "/fc/Gemm");
  integer(gemm, "transB", 1);
  weight(m, "conv.weight", {4, 3, 3, 3}, 1);
  weight(m, "conv.bias", {4}, 2);
  weight(m, "bn.weight", {4}, 3, 0.5, 1.5);
  weight(m, "bn.bias", {4}, 4, -0.2, 0.2);
  weight(m, "bn.running_mean", {4}, 5, -0.2, 0.2);
  weight(m, "bn.running_var", {4}, 6, 0.5, 1.5);
  weight(m, "fc.weight", {5, 4}, 7);
  weight(m, "fc.bias", {5}, 8);
  output(m, "y");
  return m;
}

inline std::string bytes(const ::onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

inline void save(const ::onnx::ModelProto& m, const std::string& path) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes(m);
}

}  // namespace kiln::test::onnx_build
