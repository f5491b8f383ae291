// The catalogue of hostile .onnx files: one table, each row a way an ONNX
// model can be broken, run through `engine-run FILE` (exit 1, exactly one
// line on stderr, the expected message) and engine::load_model (kiln::Error
// with the same message). Every row starts from a small CNN built with ONNX's
// protobuf classes (tests/loaders/onnx_builder.h), saved as DIR/model.onnx
// with its conv weight in DIR/weights.bin as external data, and breaks one
// thing. See docs/ONNX.md for the rules and limits.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/error.h"
#include "loaders/random.h"
#include "tests/engine/run_command.h"
#include "tests/loaders/onnx_builder.h"

namespace fs = std::filesystem;
namespace ob = kiln::test::onnx_build;

namespace {

// The model as the rows find it: small_cnn with conv.weight as external data.
onnx::ModelProto base_model(const fs::path& dir) {
  onnx::ModelProto m = ob::small_cnn();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  std::ofstream(dir / "weights.bin", std::ios::binary) << w->raw_data();
  const std::string length = std::to_string(w->raw_data().size());
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (auto kv : {std::pair<std::string, std::string>{"location", "weights.bin"}, {"offset", "0"},
                  {"length", length}}) {
    auto* e = w->add_external_data();
    e->set_key(kv.first);
    e->set_value(kv.second);
  }
  return m;
}

onnx::GraphProto& graph(onnx::ModelProto& m) { return *m.mutable_graph(); }

onnx::NodeProto& node(onnx::ModelProto& m, const std::string& name) {
  for (onnx::NodeProto& n : *graph(m).mutable_node()) {
    if (n.name() == name) return n;
  }
  throw std::runtime_error("onnx catalogue: no node " + name);
}

onnx::TensorProto& initializer(onnx::ModelProto& m, const std::string& name) {
  for (onnx::TensorProto& t : *graph(m).mutable_initializer()) {
    if (t.name() == name) return t;
  }
  throw std::runtime_error("onnx catalogue: no initializer " + name);
}

void set_external(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  for (auto& kv : *initializer(m, "conv.weight").mutable_external_data()) {
    if (kv.key() == key) kv.set_value(value);
  }
}

void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values) {
  for (onnx::AttributeProto& a : *n.mutable_attribute()) {
    if (a.name() == name) {
      a.clear_ints();
      for (int64_t v : values) a.add_ints(v);
      return;
    }
  }
  ob::ints(&n, name, values);
}

// A node of `op` spliced in after the Relu (r [N, 4, 8, 8]): reads r and
// `extra` inputs, and the MaxPool reads its first output.
onnx::NodeProto* after_relu(onnx::ModelProto& m, const std::string& op, const std::vector<std::string>& extra = {},
                            const std::vector<std::string>& outputs = {"r2"}) {
  std::vector<std::string> inputs = {"r"};
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  node(m, "/pool/MaxPool").set_input(0, outputs[0]);
  return ob::node(m, op, inputs, outputs, "/" + op);
}

using Break = std::function<void(const fs::path& dir, onnx::ModelProto& m)>;

// Rows that edit the model before it is saved.
Break edit(std::function<void(onnx::ModelProto&)> f) {
  return [f](const fs::path&, onnx::ModelProto& m) { f(m); };
}

// Rows that write model.onnx's bytes themselves (after the model is saved).
Break file_bytes(std::function<std::string(const std::string& saved)> f) {
  return [f](const fs::path& dir, onnx::ModelProto& m) {
    const std::string bytes = f(ob::bytes(m));
    m.Clear();  // tells the runner the file is written
    std::ofstream(dir / "model.onnx", std::ios::binary | std::ios::trunc) << bytes;
  };
}

std::string random_bytes(size_t n, uint64_t seed) {
  kiln::loaders::Random rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.next_u64() & 0xff);
  return s;
}

struct Case {
  const char* name;
  Break breaks;
  std::string message;  // expected in the one-line error
};

std::vector<Case> catalogue() {
  return {
      // the file
      {"an empty file", file_bytes([](const std::string&) { return std::string(); }), "model.onnx: the file is empty"},
      {"a truncated file", file_bytes([](const std::string& s) { return s.substr(0, s.size() / 2); }),
       "not an ONNX model: malformed or truncated protobuf data"},
      {"random bytes", file_bytes([](const std::string&) { return random_bytes(4096, 1); }), "not an ONNX model"},
      {"not protobuf (a graph.json)",
       file_bytes([](const std::string&) { return std::string("{\"format\": \"kiln\", \"version\": 1}\n"); }),
       "not an ONNX model"},
      {"a file over the size limit",
       [](const fs::path& dir, onnx::ModelProto& m) {
         m.Clear();
         std::ofstream(dir / "model.onnx", std::ios::binary) << "x";
         fs::resize_file(dir / "model.onnx", uint64_t(1) << 31);  // sparse: no disk used
       },
       "the file is 2147483648 bytes, more than the limit of 2147483647"},
      {"ir_version 0", edit([](onnx::ModelProto& m) { m.set_ir_version(0); }), "ir_version is 0"},
      {"no graph", edit([](onnx::ModelProto& m) { m.clear_graph(); }), "the model has no graph"},

      // opsets, ops and domains
      {"an opset above 17", edit([](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(18); }),
       "opset 18 is newer than Kiln reads opsets 11 to 17"},
      {"an opset below 11", edit([](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(9); }),
       "opset 9 is older than Kiln reads opsets 11 to 17 (onnx.version_converter.convert_version can "
       "upgrade the model)"},
      {"an unknown op", edit([](onnx::ModelProto& m) { node(m, "/relu/Relu").set_op_type("Frobnicate"); }),
       "1 node Kiln cannot run (yet; see docs/ONNX.md): Frobnicate (opset 13) at '/relu/Relu'"},
      {"a domain the model does not import",
       edit([](onnx::ModelProto& m) { node(m, "/relu/Relu").set_domain("com.example"); }),
       "node '/relu/Relu' (Relu): domain 'com.example' is not in the model's opset_import"},
      {"an op of another domain",
       edit([](onnx::ModelProto& m) {
         auto* o = m.add_opset_import();
         o->set_domain("com.example");
         o->set_version(1);
         node(m, "/relu/Relu").set_domain("com.example");
       }),
       "Relu (domain 'com.example' opset 1) at '/relu/Relu'"},

      // the graph
      {"a cycle", edit([](onnx::ModelProto& m) { node(m, "/conv/Conv").set_input(0, "r"); }),
       "the graph has a cycle: node '/conv/Conv' (Conv) -> node '/bn/BatchNormalization' (BatchNormalization) -> "
       "node '/relu/Relu' (Relu) -> node '/conv/Conv' (Conv)"},
      {"an undefined input", edit([](onnx::ModelProto& m) { node(m, "/relu/Relu").set_input(0, "nowhere"); }),
       "node '/relu/Relu' (Relu): input 'nowhere' is not defined"},
      {"a value computed twice", edit([](onnx::ModelProto& m) { node(m, "/relu/Relu").set_output(0, "b"); }),
       "node '/relu/Relu' (Relu): output 'b' is also computed by node '/bn/BatchNormalization'"},
      {"a graph with no outputs", edit([](onnx::ModelProto& m) { graph(m).clear_output(); }),
       "the graph has no outputs"},
      {"an undefined graph output", edit([](onnx::ModelProto& m) { graph(m).mutable_output(0)->set_name("z"); }),
       "graph output 'z' is not defined"},
      {"a graph input of int64",
       edit([](onnx::ModelProto& m) {
         graph(m).mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
       }),
       "graph input 'x': element type int64 is not supported (Kiln's inputs are float32)"},
      {"a symbolic height",
       edit([](onnx::ModelProto& m) {
         graph(m).mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(2)
             ->set_dim_param("h");
       }),
       "graph input 'x': dimension 2 is symbolic ('h'): Kiln needs fixed sizes beyond the batch"},

      // initializers
      {"dims that promise more data than there is",
       edit([](onnx::ModelProto& m) { initializer(m, "conv.bias").set_dims(0, 8); }),
       "initializer 'conv.bias': dims [8] need 32 bytes of float32, the raw_data holds 16"},
      {"a negative dim", edit([](onnx::ModelProto& m) { initializer(m, "conv.bias").set_dims(0, -4); }),
       "initializer 'conv.bias': dims [-4]: a dimension is negative"},
      {"dims past the element limit",
       edit([](onnx::ModelProto& m) {
         initializer(m, "conv.bias").set_dims(0, int64_t(1) << 40);
       }),
       "initializer 'conv.bias': dims [1099511627776] have more than 2147483648 elements, the limit"},
      {"a float16 weight",
       edit([](onnx::ModelProto& m) { initializer(m, "conv.bias").set_data_type(onnx::TensorProto::FLOAT16); }),
       "initializer 'conv.bias': data type float16 is not supported"},

      // external data
      {"external data escaping the folder",
       edit([](onnx::ModelProto& m) { set_external(m, "location", "sub/../../weights.bin"); }),
       "external data 'sub/../../weights.bin': the location leaves the model's folder"},
      {"external data at an absolute path",
       edit([](onnx::ModelProto& m) { set_external(m, "location", "/etc/passwd"); }),
       "external data '/etc/passwd': the location must be a path relative to the model's folder"},
      {"external data through a symlink out of the folder",
       [](const fs::path& dir, onnx::ModelProto&) {
         fs::path outside = dir.parent_path() / (dir.filename().string() + "-outside.bin");
         fs::copy_file(dir / "weights.bin", outside);
         fs::remove(dir / "weights.bin");
         fs::create_symlink(outside, dir / "weights.bin");
       },
       "outside the model directory"},
      {"missing external data", [](const fs::path& dir, onnx::ModelProto&) { fs::remove(dir / "weights.bin"); },
       "external data 'weights.bin' cannot be opened: No such file or directory"},
      {"external data past the end of its file",
       edit([](onnx::ModelProto& m) { set_external(m, "offset", "100"); }),
       "external data 'weights.bin': offset 100 + length 432 is past the end of the file (432 bytes)"},
      {"external data whose length disagrees with the dims",
       edit([](onnx::ModelProto& m) { set_external(m, "length", "4"); }),
       "external data 'weights.bin': length 4, but the dims need 432 bytes"},
      {"an external offset that is not a number",
       edit([](onnx::ModelProto& m) { set_external(m, "offset", "-1"); }),
       "external data 'offset': expected a non-negative integer, got '-1'"},

      // attributes and values
      {"negative pads", edit([](onnx::ModelProto& m) { set_ints(node(m, "/conv/Conv"), "pads", {-1, 1, 1, 1}); }),
       "node '/conv/Conv' (Conv): attribute 'pads': expected 4 non-negative integers, got [-1, 1, 1, 1]"},
      {"zero strides", edit([](onnx::ModelProto& m) { set_ints(node(m, "/conv/Conv"), "strides", {0, 1}); }),
       "node '/conv/Conv' (Conv): attribute 'strides': expected 2 positive integers, got [0, 1]"},
      {"a kernel_shape that disagrees with the weight",
       edit([](onnx::ModelProto& m) { set_ints(node(m, "/conv/Conv"), "kernel_shape", {5, 5}); }),
       "attribute 'kernel_shape' [5, 5] disagrees with the weight [4, 3, 3, 3]"},
      {"an unknown attribute", edit([](onnx::ModelProto& m) { ob::integer(&node(m, "/relu/Relu"), "alpha", 1); }),
       "node '/relu/Relu' (Relu): unknown attribute 'alpha' (known: none)"},
      {"a BatchNormalization with a negative variance",
       edit([](onnx::ModelProto& m) {
         std::vector<float> v = {1.f, -0.5f, 1.f, 1.f};
         initializer(m, "bn.running_var").set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), 16));
       }),
       "node '/bn/BatchNormalization' (BatchNormalization): input 4 'bn.running_var' (the variance): element 1 is "
       "-0.500000, expected a non-negative number"},
      // the handlers of shapes and layouts
      {"a Reshape to a shape that does not divide",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "shape", {3}, {0, 5, -1});
         after_relu(m, "Reshape", {"shape"});
       }),
       "node '/Reshape' (Reshape): cannot reshape [N, 4, 8, 8] to [0, 5, -1]"},
      {"a Reshape with two -1s",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "shape", {4}, {0, -1, -1, 8});
         after_relu(m, "Reshape", {"shape"});
       }),
       "node '/Reshape' (Reshape): shape [0, -1, -1, 8]: element 2 is invalid"},
      {"a Transpose whose perm repeats an axis",
       edit([](onnx::ModelProto& m) { ob::ints(after_relu(m, "Transpose"), "perm", {0, 1, 1, 3}); }),
       "node '/Transpose' (Transpose): attribute 'perm' [0, 1, 1, 3] is not a permutation of 0..3"},
      {"a Split whose sizes do not sum to the axis",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "sizes", {2}, {1, 2});
         ob::integer(after_relu(m, "Split", {"sizes"}, {"r2", "r3"}), "axis", 1);
       }),
       "node '/Split' (Split): split [1, 2] sums to 3, the axis has 4"},
      {"a Concat along an axis out of range",
       edit([](onnx::ModelProto& m) { ob::integer(after_relu(m, "Concat", {"r"}), "axis", 4); }),
       "node '/Concat' (Concat): attribute 'axis' 4 is out of range for rank 4"},
      {"a Slice naming one axis twice",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "starts", {2}, {0, 0});
         ob::int_tensor(m, "ends", {2}, {2, 2});
         ob::int_tensor(m, "axes", {2}, {1, -3});
         after_relu(m, "Slice", {"starts", "ends", "axes"});
       }),
       "node '/Slice' (Slice): axes [1, -3]: axis 1 repeats"},
      {"a Squeeze of a dimension that is not 1",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "axes", {1}, {1});
         after_relu(m, "Squeeze", {"axes"});
       }),
       "node '/Squeeze' (Squeeze): axes [1]: expected distinct axes of size 1 in [N, 4, 8, 8]"},
      {"a Clip whose min is above its max",
       edit([](onnx::ModelProto& m) {
         ob::weight(m, "lo", {}, 9, 2.0, 2.0);
         ob::weight(m, "hi", {}, 10, 1.0, 1.0);
         after_relu(m, "Clip", {"lo", "hi"});
       }),
       "node '/Clip' (Clip): bounds [2.000000, 1.000000]: expected min <= max"},
      {"shape arithmetic dividing by zero",
       edit([](onnx::ModelProto& m) {
         ob::int_tensor(m, "four", {1}, {4});
         ob::int_tensor(m, "zero", {1}, {0});
         ob::node(m, "Div", {"four", "zero"}, {"q"}, "/Div");
         ob::int_tensor(m, "rest", {3}, {0, 8, 8});
         ob::node(m, "Concat", {"rest", "q"}, {"shape"}, "/Concat");
         after_relu(m, "Reshape", {"shape"});
       }),
       "node '/Div' (Div): integer division by zero"},
      {"a Kiln check failing on the converted node",
       edit([](onnx::ModelProto& m) { ob::integer(&node(m, "/conv/Conv"), "group", 2); }),
       "node '/conv/Conv' (conv2d): groups 2 must divide input channels 3"},
  };
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("onnx catalogue: the model runs, with its external data, before anything is broken") {
  fs::path dir = kiln::test::make_temp_dir("kiln-onnx-catalogue");
  ob::save(base_model(dir), (dir / "model.onnx").string());
  auto r = kiln::test::run_engine((dir / "model.onnx").string() + " --fuse=all");
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  fs::remove_all(dir);
}

TEST_CASE("onnx catalogue: every hostile .onnx file is refused with exit 1 and a one-line error") {
  const std::vector<Case> cases = catalogue();
  CHECK(cases.size() >= 30);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    fs::path dir = kiln::test::make_temp_dir("kiln-onnx-catalogue");
    const std::string path = (dir / "model.onnx").string();
    onnx::ModelProto m = base_model(dir);
    c.breaks(dir, m);
    if (m.has_graph() || m.ir_version() != 0 || m.opset_import_size() != 0) ob::save(m, path);
    auto r = kiln::test::run_engine(path);
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.rfind("engine-run: " + path, 0) == 0);
    CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, "stderr: " << r.err);
    CHECK_THROWS_WITH_AS(kiln::engine::load_model(path), doctest::Contains(c.message.c_str()), kiln::Error);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove(dir.parent_path() / (dir.filename().string() + "-outside.bin"), ec);
  }
}
