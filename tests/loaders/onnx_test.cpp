// The ONNX loader on models built in C++ (tests/loaders/onnx_builder.h):
// what each ONNX op becomes, the folding of shape arithmetic, external data,
// and the one error listing every node Kiln cannot run. Parity with PyTorch
// on exported files is tests/parity/onnx_parity.py; malformed files are the
// catalogue in tests/reliability/onnx_catalogue_test.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <kiln/kiln.h>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/onnx/onnx.h"
#include "ops/registry.h"
#include "tests/engine/run_command.h"
#include "tests/loaders/onnx_builder.h"

namespace fs = std::filesystem;
namespace ob = kiln::test::onnx_build;
using kiln::ir::Graph;
using kiln::ir::kBatch;
using kiln::ir::Shape;

namespace {

// The model converted and verified; external data is looked up in `dir`.
Graph load(const onnx::ModelProto& m, const std::string& dir = fs::temp_directory_path().string()) {
  const kiln::ir::OpTable& ops = kiln::ops::registry().schemas();
  Graph g = kiln::loaders::parse_onnx(ob::bytes(m), dir, "test.onnx", ops);
  kiln::ir::verify(g, ops);
  return g;
}

std::vector<std::string> op_list(const Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes()) ops.push_back(n->op);
  return ops;
}

std::string load_error(const onnx::ModelProto& m) {
  try {
    load(m);
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

kiln::ir::Tensor filled(const Shape& shape, float step) {
  kiln::ir::Tensor t(shape);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = step * static_cast<float>(static_cast<int>(i % 11) - 5);
  return t;
}

// x [N, 4] -> Gemm(x, B, C) -> y, with the attributes given.
onnx::ModelProto gemm_model(bool trans_b, float alpha, float beta, const std::vector<int64_t>& c_dims) {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 4});
  auto* gemm = ob::node(m, "Gemm", {"x", "B", "C"}, {"y"}, "gemm");
  ob::integer(gemm, "transB", trans_b);
  ob::real(gemm, "alpha", alpha);
  ob::real(gemm, "beta", beta);
  ob::weight(m, "B", trans_b ? std::vector<int64_t>{3, 4} : std::vector<int64_t>{4, 3}, 11);
  ob::weight(m, "C", c_dims, 12);
  ob::output(m, "y");
  return m;
}

}  // namespace

TEST_CASE("onnx: a small CNN loads as Kiln ops with the batch left free") {
  Graph g = load(ob::small_cnn());
  CHECK(op_list(g) == std::vector<std::string>{"conv2d", "batchnorm", "relu", "max_pool2d",
                                               "global_avg_pool2d", "flatten", "linear"});
  REQUIRE(g.inputs().size() == 1);
  CHECK(g.inputs()[0]->shape == Shape{kBatch, 3, 8, 8});
  CHECK(g.outputs()[0]->shape == Shape{kBatch, 5});
  const kiln::ir::Node& conv = *g.nodes()[0];
  CHECK(conv.name == "/conv/Conv");
  CHECK(std::get<std::vector<int64_t>>(conv.attrs.at("padding")) == std::vector<int64_t>{1, 1});
  CHECK(g.nodes()[1]->inputs[1]->name == "bn.running_mean");
  CHECK(std::get<std::vector<int64_t>>(g.nodes()[3]->attrs.at("stride")) == std::vector<int64_t>{2, 2});
}

TEST_CASE("onnx: a fixed first dimension stays a fixed batch") {
  onnx::ModelProto m = ob::small_cnn();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()
      ->mutable_dim(0)->set_dim_value(2);
  Graph g = load(m);
  CHECK(g.inputs()[0]->shape == Shape{2, 3, 8, 8});
  CHECK(g.outputs()[0]->shape == Shape{2, 5});
}

TEST_CASE("onnx: the BatchNormalization after a conv folds, and the folded model computes the same") {
  Graph g = load(ob::small_cnn());
  Graph fused = g.clone();
  auto reports = kiln::engine::fuse(fused, kiln::engine::FuseLevel::all);
  CHECK(g.count_op("batchnorm") == 1);
  CHECK(fused.count_op("batchnorm") == 0);
  kiln::ir::Tensor x = filled({3, 3, 8, 8}, 0.1f);
  auto y = kiln::engine::run_graph(g, {x});
  auto yf = kiln::engine::run_graph(fused, {x});
  REQUIRE(y[0].shape == Shape{3, 5});
  for (size_t i = 0; i < y[0].data.size(); ++i) CHECK(yf[0].data[i] == doctest::Approx(y[0].data[i]).epsilon(1e-5));
}

TEST_CASE("onnx: Gemm with transB 0, alpha and beta computes alpha x B + beta C") {
  for (bool trans_b : {false, true}) {
    for (const std::vector<int64_t>& c_dims : {std::vector<int64_t>{3}, {1, 3}, {1}}) {
      CAPTURE(trans_b);
      CAPTURE(c_dims.size());
      onnx::ModelProto m = gemm_model(trans_b, 0.5f, 2.0f, c_dims);
      Graph g = load(m);
      CHECK(op_list(g) == std::vector<std::string>{"linear"});
      kiln::ir::Tensor x = filled({2, 4}, 0.25f);
      auto y = kiln::engine::run_graph(g, {x});
      std::vector<float> b = ob::random_values(12, 11), c = ob::random_values(c_dims.back(), 12);
      for (int64_t n = 0; n < 2; ++n) {
        for (int64_t o = 0; o < 3; ++o) {
          double sum = 0;
          for (int64_t i = 0; i < 4; ++i)
            sum += x.data[static_cast<size_t>(n * 4 + i)] * b[static_cast<size_t>(trans_b ? o * 4 + i : i * 3 + o)];
          double want = 0.5 * sum + 2.0 * c[c.size() == 1 ? 0 : static_cast<size_t>(o)];
          CHECK(y[0].data[static_cast<size_t>(n * 3 + o)] == doctest::Approx(want).epsilon(1e-5));
        }
      }
    }
  }
}

TEST_CASE("onnx: a BatchNormalization after Gemm folds into the linear") {
  onnx::ModelProto m = gemm_model(true, 1.0f, 1.0f, {3});
  m.mutable_graph()->mutable_output(0)->set_name("z");
  ob::node(m, "BatchNormalization", {"y", "g", "b", "mean", "var"}, {"z"}, "bn");
  ob::weight(m, "g", {3}, 21, 0.5, 1.5);
  ob::weight(m, "b", {3}, 22);
  ob::weight(m, "mean", {3}, 23);
  ob::weight(m, "var", {3}, 24, 0.5, 1.5);
  Graph g = load(m);
  CHECK(op_list(g) == std::vector<std::string>{"linear", "batchnorm"});
  kiln::engine::fuse(g, kiln::engine::FuseLevel::all);
  CHECK(op_list(g) == std::vector<std::string>{"linear"});
}

TEST_CASE("onnx: auto_pad SAME_UPPER becomes Kiln's symmetric padding") {
  onnx::ModelProto m = ob::small_cnn();
  auto* conv = m.mutable_graph()->mutable_node(0);
  conv->clear_attribute();
  ob::text(conv, "auto_pad", "SAME_UPPER");
  Graph g = load(m);
  CHECK(std::get<std::vector<int64_t>>(g.nodes()[0]->attrs.at("padding")) == std::vector<int64_t>{1, 1});
  CHECK(g.nodes()[0]->output->shape == Shape{kBatch, 4, 8, 8});
}

TEST_CASE("onnx: Shape, Gather, Unsqueeze, Concat and Reshape fold to one flatten") {
  for (int64_t opset : {11, 13, 17}) {
    CAPTURE(opset);
    onnx::ModelProto m = ob::model(opset);
    ob::input(m, "x", {-1, 2, 3, 4});
    ob::node(m, "Shape", {"x"}, {"shape"}, "/Shape");
    ob::node(m, "Gather", {"shape", "zero"}, {"n"}, "/Gather");
    auto* unsqueeze = ob::node(m, "Unsqueeze", {"n"}, {"n1"}, "/Unsqueeze");
    if (opset < 13) ob::ints(unsqueeze, "axes", {0});
    else unsqueeze->add_input("axes");
    auto* concat = ob::node(m, "Concat", {"n1", "minus_one"}, {"target"}, "/Concat");
    ob::integer(concat, "axis", 0);
    ob::node(m, "Reshape", {"x", "target"}, {"y"}, "/Reshape");
    ob::int_tensor(m, "zero", {}, {0});
    ob::int_tensor(m, "axes", {1}, {0});
    ob::int_tensor(m, "minus_one", {1}, {-1});
    ob::output(m, "y");
    Graph g = load(m);
    CHECK(op_list(g) == std::vector<std::string>{"flatten"});
    CHECK(g.outputs()[0]->shape == Shape{kBatch, 24});
  }
}

TEST_CASE("onnx: a reshape that keeps the shape is no node, one that is not a flatten is a reshape") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 2, 3, 4});
  ob::node(m, "Reshape", {"x", "same"}, {"s"}, "same_shape");
  ob::node(m, "Relu", {"s"}, {"r"}, "relu");
  ob::node(m, "Reshape", {"r", "split"}, {"y"}, "split_dims");
  ob::int_tensor(m, "same", {4}, {0, 2, -1, 4});
  ob::int_tensor(m, "split", {3}, {0, 6, 4});
  ob::output(m, "y");
  Graph g = load(m);
  CHECK(op_list(g) == std::vector<std::string>{"relu", "reshape"});
  CHECK(g.outputs()[0]->shape == Shape{kBatch, 6, 4});
  m.mutable_graph()->mutable_node(2)->set_input(1, "flat");
  ob::int_tensor(m, "flat", {2}, {0, -1});
  CHECK(op_list(load(m)) == std::vector<std::string>{"relu", "flatten"});
}

TEST_CASE("onnx: one error lists every node Kiln cannot run, with op type and opset") {
  onnx::ModelProto m = ob::model(17);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  ob::input(m, "x", {-1, 4, 5, 5});
  ob::node(m, "Round", {"x"}, {"s1"}, "gate1");
  ob::node(m, "Round", {"s1"}, {"s2"}, "gate2");         // after an unsupported node: listed too
  ob::node(m, "Erf", {"x"}, {"e"}, "erf");               // not inside a GELU
  ob::node(m, "Relu", {"s2"}, {"r"}, "relu_after");      // supported, but reads a value Kiln lacks: skipped
  // Shape arithmetic on that value: skipped as well, not reported.
  ob::node(m, "Shape", {"s2"}, {"shape"}, "shape_after");
  ob::node(m, "Gather", {"shape", "zero"}, {"n"}, "gather_after");
  ob::node(m, "Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze_after");
  ob::node(m, "Concat", {"n1", "minus_one"}, {"target"}, "concat_after");
  ob::node(m, "Reshape", {"r", "target"}, {"flat"}, "reshape_after");
  ob::int_tensor(m, "zero", {}, {0});
  ob::int_tensor(m, "axes", {1}, {0});
  ob::int_tensor(m, "minus_one", {1}, {-1});
  // A Concat of activations after an unsupported node: skipped too.
  ob::node(m, "Concat", {"s2", "x"}, {"c"}, "cat_after")->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(1);
    return a;
  }());
  ob::node(m, "FusedConv", {"x"}, {"f"}, "fused")->set_domain("com.microsoft");
  ob::output(m, "flat");
  ob::output(m, "c");
  ob::output(m, "f");
  ob::output(m, "e");
  const std::string e = load_error(m);
  CHECK(e.find("test.onnx: 4 nodes Kiln cannot run (yet; see docs/ONNX.md): ") == 0);
  CHECK(e.find("Round (opset 17) at 'gate1', 'gate2'") != std::string::npos);
  CHECK(e.find("Erf (opset 17): Erf outside the GELU pattern") != std::string::npos);
  CHECK(e.find("FusedConv (domain 'com.microsoft' opset 1) at 'fused'") != std::string::npos);
  CHECK(e.find("_after") == std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("onnx: Identity, Dropout and Constant make no node, and a Constant can be a weight") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 3});
  auto* constant = ob::node(m, "Constant", {}, {"w"}, "const_w");
  auto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {2, 3}) value->mutable_t()->add_dims(d);
  for (float v : {1.f, 0.f, 0.f, 0.f, 1.f, 0.f}) value->mutable_t()->add_float_data(v);
  ob::node(m, "Identity", {"x"}, {"i"}, "id");
  ob::node(m, "Dropout", {"i", "ratio"}, {"d"}, "drop");
  ob::weight(m, "ratio", {}, 3);
  auto* gemm = ob::node(m, "Gemm", {"d", "w"}, {"y"}, "fc");
  ob::integer(gemm, "transB", 1);
  ob::output(m, "y");
  Graph g = load(m);
  CHECK(op_list(g) == std::vector<std::string>{"linear"});
  auto y = kiln::engine::run_graph(g, {filled({1, 3}, 1.0f)});
  CHECK(y[0].data == std::vector<float, kiln::ir::LargeBufferAllocator<float>>{-5.f, -4.f});
}

TEST_CASE("onnx: Clip from 0 with no upper bound is a relu, Clip from 0 to 6 a clamp") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 3});
  ob::node(m, "Clip", {"x", "zero"}, {"y"}, "clip");
  ob::weight(m, "zero", {}, 0, 0.0, 0.0);
  ob::output(m, "y");
  CHECK(op_list(load(m)) == std::vector<std::string>{"relu"});
  m.mutable_graph()->mutable_node(0)->add_input("six");
  ob::weight(m, "six", {}, 0, 6.0, 6.0);
  Graph g = load(m);
  REQUIRE(op_list(g) == std::vector<std::string>{"clamp"});
  CHECK(std::get<double>(g.nodes()[0]->attrs.at("max")) == 6.0);
}

TEST_CASE("onnx: nodes out of order are put in topological order") {
  onnx::ModelProto m = ob::small_cnn();
  auto* nodes = m.mutable_graph()->mutable_node();
  std::reverse(nodes->begin(), nodes->end());
  CHECK(op_list(load(m)) == std::vector<std::string>{"conv2d", "batchnorm", "relu", "max_pool2d",
                                                     "global_avg_pool2d", "flatten", "linear"});
}

TEST_CASE("onnx: external data beside the model is read at its offset") {
  const std::string dir = kiln::test::make_temp_dir("kiln-onnx-external");
  onnx::ModelProto m = ob::small_cnn();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);  // conv.weight
  const std::string data = w->raw_data();
  std::ofstream(dir + "/weights.bin", std::ios::binary) << std::string(16, 'x') << data;
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (auto kv : {std::pair<std::string, std::string>{"location", "./sub/../weights.bin"},
                  {"offset", "16"}, {"length", std::to_string(data.size())}}) {
    auto* e = w->add_external_data();
    e->set_key(kv.first);
    e->set_value(kv.second);
  }
  Graph g = load(m, dir);
  Graph inline_weights = load(ob::small_cnn());
  CHECK(g.nodes()[0]->inputs[1]->data->data == inline_weights.nodes()[0]->inputs[1]->data->data);
  fs::remove_all(dir);
}

TEST_CASE("onnx: engine-run and kiln::Model open an .onnx file, and --save writes a model directory") {
  const std::string dir = kiln::test::make_temp_dir("kiln-onnx-open");
  const std::string path = dir + "/small.onnx";
  ob::save(ob::small_cnn(), path);
  kiln::Model model = kiln::Model::load(path);
  CHECK(model.op_count("batchnorm") == 1);
  CHECK(model.input_shapes() == std::vector<std::vector<int64_t>>{{-1, 3, 8, 8}});
  auto r = kiln::test::run_engine(path + " --fuse=all --save " + dir + "/saved --json");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\"batchnorm_before\":1") != std::string::npos);
  CHECK(r.out.find("\"batchnorm_after\":0") != std::string::npos);
  CHECK(fs::exists(dir + "/saved/graph.json"));
  CHECK(kiln::Model::load(dir + "/saved").op_count("batchnorm") == 0);
  fs::remove_all(dir);
}

TEST_CASE("onnx: a graph that would copy a weight without bound is refused") {
  // One 4 MiB weight, reshaped by 20 nodes into 20 conv weights: 80 MiB of
  // copies from a 4 MiB model, past the 64 MiB allowance.
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 1, 32, 32});
  ob::tensor(m, "flat", {1 << 20}, std::vector<float>(1 << 20, 0.5f));
  ob::int_tensor(m, "shape", {4}, {1024, 1, 32, 32});
  for (int i = 0; i < 20; ++i) {
    const std::string k = std::to_string(i);
    ob::node(m, "Reshape", {"flat", "shape"}, {"w" + k}, "reshape" + k);
    ob::node(m, "Conv", {"x", "w" + k}, {"y" + k}, "conv" + k);
    ob::output(m, "y" + k);
  }
  CHECK(load_error(m).find("the conversion would copy") != std::string::npos);
  // Two convs: within the allowance.
  m.mutable_graph()->mutable_output()->DeleteSubrange(2, 18);
  m.mutable_graph()->mutable_node()->DeleteSubrange(4, 36);
  CHECK(op_list(load(m)) == std::vector<std::string>{"conv2d", "conv2d"});
}

TEST_CASE("onnx: the Erf pattern of GELU becomes one gelu node") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 6});
  ob::node(m, "Div", {"x", "sqrt2"}, {"d"}, "div");
  ob::node(m, "Erf", {"d"}, {"e"}, "erf");
  ob::node(m, "Add", {"one", "e"}, {"a"}, "add");
  ob::node(m, "Mul", {"a", "x"}, {"p"}, "mul");
  ob::node(m, "Mul", {"p", "half"}, {"y"}, "mul_half");
  ob::tensor(m, "sqrt2", {}, {1.41421356f});
  ob::tensor(m, "one", {}, {1.0f});
  ob::tensor(m, "half", {}, {0.5f});
  ob::output(m, "y");
  Graph g = load(m);
  REQUIRE(op_list(g) == std::vector<std::string>{"gelu"});
  auto y = kiln::engine::run_graph(g, {filled({1, 6}, 0.5f)});
  CHECK(y[0].data[0] == doctest::Approx(-2.5 * 0.5 * (1 + std::erf(-2.5 / std::sqrt(2.0)))).epsilon(1e-5));
  // Erf's output read elsewhere too: not a GELU, and a lone Erf is unsupported.
  ob::output(m, "e");
  CHECK(load_error(m).find("Erf (opset 13): Erf outside the GELU pattern") != std::string::npos);
}

namespace {

// F.layer_norm over the last `k` dims as torch.onnx writes it below opset 17:
// ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then Mul and Add when
// `affine`. x is [N, 3, 4] (k = 1: over the 4; k = 2: over 3 x 4).
onnx::ModelProto decomposed_layer_norm(int64_t k, bool affine) {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 3, 4});
  std::vector<int64_t> axes;
  for (int64_t a = -k; a < 0; ++a) axes.push_back(a);
  ob::ints(ob::node(m, "ReduceMean", {"x"}, {"mean"}, "mean"), "axes", axes);
  ob::node(m, "Sub", {"x", "mean"}, {"d"}, "sub");
  ob::node(m, "Pow", {"d", "two"}, {"sq"}, "pow");
  ob::ints(ob::node(m, "ReduceMean", {"sq"}, {"var"}, "var"), "axes", axes);
  ob::node(m, "Add", {"var", "eps"}, {"ve"}, "add_eps");
  ob::node(m, "Sqrt", {"ve"}, {"std"}, "sqrt");
  ob::node(m, "Div", {"d", "std"}, {affine ? "n" : "y"}, "div");
  const std::vector<int64_t> dims = k == 1 ? std::vector<int64_t>{4} : std::vector<int64_t>{3, 4};
  const size_t count = k == 1 ? 4 : 12;
  if (affine) {
    ob::node(m, "Mul", {"weight", "n"}, {"w"}, "mul");
    ob::node(m, "Add", {"w", "bias"}, {"y"}, "add_bias");
    ob::tensor(m, "weight", dims, ob::random_values(count, 5, 0.5, 1.5));
    ob::tensor(m, "bias", dims, ob::random_values(count, 6));
  }
  ob::tensor(m, "two", {}, {2.0f});
  ob::tensor(m, "eps", {}, {1e-6f});
  ob::output(m, "y");
  return m;
}

}  // namespace

TEST_CASE("onnx: the decomposed LayerNorm of opsets below 17 becomes one layer_norm node") {
  for (int64_t k : {1, 2}) {
    for (bool affine : {true, false}) {
      CAPTURE(k);
      CAPTURE(affine);
      onnx::ModelProto m = decomposed_layer_norm(k, affine);
      Graph g = load(m);
      REQUIRE(op_list(g) == std::vector<std::string>{"layer_norm"});
      const kiln::ir::Node& ln = *g.nodes()[0];
      CHECK(ln.inputs.size() == (affine ? 3u : 1u));
      CHECK(kiln::ir::attr_ints(ln, "normalized_shape", {}) ==
            (k == 1 ? std::vector<int64_t>{4} : std::vector<int64_t>{3, 4}));
      CHECK(kiln::ir::attr_real(ln, "eps", 0) == doctest::Approx(1e-6));

      // Against the formula in double, on an input with an offset and spread.
      kiln::ir::Tensor x({2, 3, 4});
      const std::vector<float> values = ob::random_values(24, 7, -3.0, 5.0);
      x.data.assign(values.begin(), values.end());
      kiln::ir::Tensor y = kiln::engine::run_graph(g, {x}).at(0);
      const size_t group = k == 1 ? 4 : 12;
      for (size_t start = 0; start < 24; start += group) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < group; ++i) mean += x.data[start + i];
        mean /= double(group);
        for (size_t i = 0; i < group; ++i) var += (x.data[start + i] - mean) * (x.data[start + i] - mean);
        var /= double(group);
        for (size_t i = 0; i < group; ++i) {
          double want = (x.data[start + i] - mean) / std::sqrt(var + 1e-6);
          if (affine) {
            const auto& w = g.find_value("weight")->data->data;
            const auto& b = g.find_value("bias")->data->data;
            want = want * w[i] + b[i];
          }
          CHECK(y.data[start + i] == doctest::Approx(want).epsilon(1e-5));
        }
      }
    }
  }
  // d read elsewhere too, or a mean over a middle axis: no LayerNorm, and the
  // lone Pow and Sqrt are listed as unsupported.
  onnx::ModelProto read_twice = decomposed_layer_norm(1, true);
  ob::output(read_twice, "d");
  CHECK(load_error(read_twice).find("Pow (opset 13)") != std::string::npos);
  onnx::ModelProto middle = decomposed_layer_norm(1, true);
  for (int i : {0, 3}) {
    onnx::NodeProto* mean = middle.mutable_graph()->mutable_node(i);
    mean->mutable_attribute(0)->set_ints(0, 1);
  }
  CHECK(load_error(middle).find("Sqrt (opset 13)") != std::string::npos);
}

TEST_CASE("onnx: Split, Concat and Transpose become slices, a concat and a permute") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 4, 2, 3});
  ob::integer(ob::node(m, "Split", {"x", "sizes"}, {"a", "b"}, "split"), "axis", 1);
  ob::integer(ob::node(m, "Concat", {"b", "a"}, {"c"}, "cat"), "axis", 1);
  ob::ints(ob::node(m, "Transpose", {"c"}, {"y"}, "to_nhwc"), "perm", {0, 2, 3, 1});
  ob::int_tensor(m, "sizes", {2}, {1, 3});
  ob::output(m, "y");
  Graph g = load(m);
  CHECK(op_list(g) == std::vector<std::string>{"slice", "slice", "concat", "permute"});
  CHECK(g.outputs()[0]->shape == Shape{kBatch, 2, 3, 4});
  auto y = kiln::engine::run_graph(g, {filled({1, 4, 2, 3}, 1.0f)});
  // y[0, 0, 0, :] = x[0, [1, 2, 3, 0], 0, 0]: elements 6, 12, 18, 0 of x.
  const kiln::ir::Tensor x = filled({1, 4, 2, 3}, 1.0f);
  CHECK(std::vector<float>(y[0].data.begin(), y[0].data.begin() + 4) ==
        std::vector<float>{x.data[6], x.data[12], x.data[18], x.data[0]});
}

TEST_CASE("onnx: a HardSigmoid with ONNX's default slope is unsupported, PyTorch's is a hardsigmoid") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 3});
  ob::node(m, "HardSigmoid", {"x"}, {"y"}, "hsig");
  ob::output(m, "y");
  CHECK(load_error(m).find("HardSigmoid (opset 13): alpha 0.200000, beta 0.500000") != std::string::npos);
  ob::real(m.mutable_graph()->mutable_node(0), "alpha", 1.0f / 6.0f);
  CHECK(op_list(load(m)) == std::vector<std::string>{"hardsigmoid"});
}

namespace {

// x [N, 3, 8, 8] -> Pad by `pads` (mode `mode`) -> `op` (AveragePool 3x3,
// stride 1, or Conv 3x3 to 4 channels) with its own `own` pads -> y.
// pads = [] : no Pad, the op reads x.
onnx::ModelProto padded_model(const std::vector<int64_t>& pads, const std::string& op,
                              const std::vector<int64_t>& own, const std::string& mode = "constant") {
  onnx::ModelProto m = ob::model(13);
  ob::input(m, "x", {-1, 3, 8, 8});
  std::string in = "x";
  if (!pads.empty()) {
    auto* pad = ob::node(m, "Pad", {"x", "pads"}, {"p"}, "pad");
    ob::text(pad, "mode", mode);
    ob::int_tensor(m, "pads", {8}, pads);
    in = "p";
  }
  onnx::NodeProto* n = op == "Conv" ? ob::node(m, "Conv", {in, "w"}, {"y"}, "op")
                                    : ob::node(m, op, {in}, {"y"}, "op");
  ob::ints(n, "kernel_shape", {3, 3});
  ob::ints(n, "pads", own);
  if (op == "Conv") ob::weight(m, "w", {4, 3, 3, 3}, 21);
  if (op == "AveragePool") ob::integer(n, "count_include_pad", 1);
  ob::output(m, "y");
  return m;
}

}  // namespace

TEST_CASE("onnx: a Pad by zeros of height and width goes into the Conv or AveragePool after it") {
  const kiln::ir::Tensor x = filled({2, 3, 8, 8}, 0.1f);
  for (const std::string op : {"AveragePool", "Conv"}) {
    CAPTURE(op);
    // torch.onnx's F.avg_pool2d(x, 3, 1, padding=1): Pad by 1, then the pool unpadded.
    // Here the Pad pads the height, the op its width.
    Graph g = load(padded_model({0, 0, 1, 0, 0, 0, 1, 0}, op, {0, 1, 0, 1}));
    REQUIRE(g.nodes().size() == 1);
    CHECK(std::get<std::vector<int64_t>>(g.nodes()[0]->attrs.at("padding")) ==
          std::vector<int64_t>{1, 1});
    if (op == "AveragePool") CHECK(kiln::ir::attr_int(*g.nodes()[0], "count_include_pad", 0) == 1);
    // The same as the op padding by itself.
    Graph direct = load(padded_model({}, op, {1, 1, 1, 1}));
    auto y = kiln::engine::run_graph(g, {x});
    auto want = kiln::engine::run_graph(direct, {x});
    REQUIRE(y[0].shape == want[0].shape);
    CHECK(y[0].data == want[0].data);
  }
}

TEST_CASE("onnx: a Pad Kiln cannot take into the node after it is reported") {
  // MaxPool pads with -inf, not zeros.
  CHECK(load_error(padded_model({0, 0, 1, 1, 0, 0, 1, 1}, "MaxPool", {0, 0, 0, 0})).find(
            "MaxPool (opset 13): input 0 'p' is a Pad's output [1, 1, 1, 1] (Kiln pads inside Conv "
            "and AveragePool only) at 'op'") != std::string::npos);
  CHECK(load_error(padded_model({0, 0, 1, 1, 0, 0, 1, 1}, "Conv", {0, 0, 0, 0}, "reflect"))
            .find("Pad (opset 13): mode 'reflect' at 'pad'") != std::string::npos);
  CHECK(load_error(padded_model({0, 1, 0, 0, 0, 0, 0, 0}, "Conv", {0, 0, 0, 0}))
            .find("Pad (opset 13): pads [0, 1, 0, 0, 0, 0, 0, 0] (Kiln pads an image's height and "
                  "width by zeros, inside Conv and AveragePool only) at 'pad'") != std::string::npos);
  // Top 1, bottom 0: Kiln pads both sides alike.
  CHECK(load_error(padded_model({0, 0, 1, 0, 0, 0, 0, 0}, "Conv", {0, 0, 0, 0}))
            .find("differ at the start and the end of a dimension") != std::string::npos);
  // More than half the kernel in a pool.
  CHECK(load_error(padded_model({0, 0, 1, 1, 0, 0, 1, 1}, "AveragePool", {1, 1, 1, 1}))
            .find("more than half the kernel") != std::string::npos);
  onnx::ModelProto as_output = padded_model({0, 0, 1, 1, 0, 0, 1, 1}, "Conv", {0, 0, 0, 0});
  ob::output(as_output, "p");
  CHECK(load_error(as_output) ==
        "test.onnx: graph output 'p' is a Pad's output (Kiln pads inside Conv and AveragePool only)");
}
