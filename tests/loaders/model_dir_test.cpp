// The model directory: a valid graph loads, every malformed one is refused
// with a message naming the file and the entry, paths cannot escape, and
// save_model_dir round-trips the built-in models bit for bit.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/error.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"

namespace fs = std::filesystem;
using kiln::Error;
using kiln::ir::Graph;
using kiln::ir::Shape;
using kiln::ir::Tensor;
using kiln::loaders::load_model_dir;
using kiln::loaders::save_model_dir;
using nlohmann::json;

namespace {

// A fresh directory under the system's temp directory, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("kiln_model_dir_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path / "weights");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
  std::string graph_json() const { return (path / "graph.json").string(); }
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// conv (weight from a file, bias inline) -> relu, input [N, 2, 4, 4].
json small_graph() {
  return json::parse(R"({
    "format": "kiln", "version": 1,
    "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 2, 4, 4]}],
    "outputs": ["relu"],
    "params": [
      {"name": "conv.weight", "dtype": "float32", "shape": [3, 2, 1, 1], "file": "weights/conv.weight.npy"},
      {"name": "conv.bias", "dtype": "float32", "shape": [3], "data": [0.5, -0.25, 1.5]}],
    "nodes": [
      {"name": "conv", "op": "conv2d", "inputs": ["x", "conv.weight", "conv.bias"],
       "attrs": {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1,
                 "note": "hi", "scale": 0.1}},
      {"name": "relu", "op": "relu", "inputs": ["conv"]}]
  })");
}

const Tensor kWeight({3, 2, 1, 1}, {1, -2, 3, -4, 5, -6});

// Writes `doc` and the conv weight into `dir`.
void write_model(const TempDir& dir, const json& doc) {
  write_text(dir.path / "graph.json", doc.dump(2));
  kiln::loaders::write_npy((dir.path / "weights/conv.weight.npy").string(), kWeight);
}

// Loading must fail with a message containing `message`.
void check_load_error(const TempDir& dir, const std::string& message) {
  CHECK_THROWS_WITH_AS(load_model_dir(dir.str()), doctest::Contains(message.c_str()), Error);
}

void check_doc_error(const json& doc, const std::string& message) {
  TempDir dir;
  write_model(dir, doc);
  check_load_error(dir, message);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         std::memcmp(a.data.data(), b.data.data(), a.data.size() * 4) == 0;
}

// Same inputs, outputs, nodes (names, ops, input names, attributes) and parameter data.
void check_same_graph(const Graph& a, const Graph& b) {
  REQUIRE(a.inputs().size() == b.inputs().size());
  for (size_t i = 0; i < a.inputs().size(); ++i) {
    CHECK(a.inputs()[i]->name == b.inputs()[i]->name);
    CHECK(a.inputs()[i]->shape == b.inputs()[i]->shape);
  }
  REQUIRE(a.outputs().size() == b.outputs().size());
  for (size_t i = 0; i < a.outputs().size(); ++i) CHECK(a.outputs()[i]->name == b.outputs()[i]->name);
  REQUIRE(a.nodes().size() == b.nodes().size());
  for (size_t i = 0; i < a.nodes().size(); ++i) {
    const auto& na = *a.nodes()[i];
    const auto& nb = *b.nodes()[i];
    CHECK(na.name == nb.name);
    CHECK(na.op == nb.op);
    CHECK(na.attrs == nb.attrs);
    REQUIRE(na.inputs.size() == nb.inputs.size());
    for (size_t k = 0; k < na.inputs.size(); ++k) CHECK(na.inputs[k]->name == nb.inputs[k]->name);
  }
  auto pa = a.params();
  auto pb = b.params();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    CHECK(pa[i]->name == pb[i]->name);
    CHECK(same_bits(*pa[i]->data, *pb[i]->data));
  }
}

}  // namespace

TEST_CASE("model_dir: a valid directory loads with names, attributes, inline and file weights") {
  TempDir dir;
  write_model(dir, small_graph());
  Graph g = load_model_dir(dir.str());
  REQUIRE(g.inputs().size() == 1);
  CHECK(g.inputs()[0]->name == "x");
  CHECK(g.inputs()[0]->shape == Shape{kiln::ir::kBatch, 2, 4, 4});
  REQUIRE(g.nodes().size() == 2);
  const auto& conv = *g.nodes()[0];
  CHECK(conv.name == "conv");
  CHECK(conv.op == "conv2d");
  CHECK(std::get<std::vector<int64_t>>(conv.attrs.at("stride")) == std::vector<int64_t>{1, 1});
  CHECK(std::get<int64_t>(conv.attrs.at("groups")) == 1);
  CHECK(std::get<double>(conv.attrs.at("scale")) == 0.1);
  CHECK(std::get<std::string>(conv.attrs.at("note")) == "hi");
  REQUIRE(conv.inputs.size() == 3);
  CHECK(same_bits(*conv.inputs[1]->data, kWeight));
  CHECK(conv.inputs[2]->data->data == kiln::ir::TensorData{0.5f, -0.25f, 1.5f});
  REQUIRE(g.outputs().size() == 1);
  CHECK(g.outputs()[0] == g.nodes()[1]->output);
  CHECK(g.nodes()[1]->inputs[0] == conv.output);
}

TEST_CASE("model_dir: a missing directory or graph.json is reported") {
  CHECK_THROWS_WITH_AS(load_model_dir("/nonexistent/kiln/model"),
                       doctest::Contains("/nonexistent/kiln/model: cannot open the model directory"), Error);
  TempDir dir;
  check_load_error(dir, dir.str() + ": file 'graph.json' cannot be opened");
}

TEST_CASE("model_dir: invalid JSON is reported with its byte position") {
  TempDir dir;
  write_text(dir.path / "graph.json", "{\"format\": \"kiln\", \"version\": }");
  check_load_error(dir, dir.graph_json() + ": invalid JSON at byte 31: parse error at line 1, column 31");
}

TEST_CASE("model_dir: JSON nested past the depth limit is refused before parsing") {
  TempDir dir;
  write_text(dir.path / "graph.json", std::string(100000, '[') + std::string(100000, ']'));
  check_load_error(dir, dir.graph_json() + ": JSON nests deeper than 64 levels at byte 64");
}

TEST_CASE("model_dir: a JSON object that repeats a key is refused") {
  TempDir dir;
  write_text(dir.path / "graph.json", R"({"format": "kiln", "format": "kiln"})");
  check_load_error(dir, ": JSON object repeats the key \"format\"");
}

TEST_CASE("model_dir: graph.json over the size limit is refused before it is read") {
  TempDir dir;
  write_text(dir.path / "graph.json", "{}");
  fs::resize_file(dir.path / "graph.json", kiln::loaders::kMaxGraphJsonBytes + 1);  // sparse
  check_load_error(dir, dir.graph_json() + ": the file is 67108865 bytes, more than the limit of 67108864");
}

TEST_CASE("model_dir: a wrong format or version is refused") {
  json doc = small_graph();
  doc["format"] = "onnx";
  check_doc_error(doc, "graph.json: field 'format': expected \"kiln\", got \"onnx\"");
  doc = small_graph();
  doc["version"] = 2;
  check_doc_error(doc, "graph.json: field 'version': this Kiln reads version 1, got 2");
  doc = small_graph();
  doc["version"] = "1";
  check_doc_error(doc, "field 'version': this Kiln reads version 1, got \"1\"");
  check_doc_error(json::array(), "graph.json: expected a JSON object at the top, got []");
}

TEST_CASE("model_dir: missing fields, unknown fields and wrong field types are refused") {
  json doc = small_graph();
  doc.erase("nodes");
  check_doc_error(doc, "graph.json: missing field 'nodes'");
  doc = small_graph();
  doc["extra"] = 1;
  check_doc_error(doc, "graph.json: unknown field 'extra'");
  doc = small_graph();
  doc["nodes"] = json::object();
  check_doc_error(doc, "graph.json: field 'nodes': expected a list, got {}");
  doc = small_graph();
  doc["nodes"][0]["op"] = 5;
  check_doc_error(doc, "graph.json: node 'conv': field 'op': expected a non-empty string, got 5");
  doc = small_graph();
  doc["nodes"][1].erase("name");
  check_doc_error(doc, "graph.json: nodes[1]: missing field 'name'");
  doc = small_graph();
  doc["nodes"][1]["attr"] = json::object();
  check_doc_error(doc, "graph.json: nodes[1]: unknown field 'attr'");
  doc = small_graph();
  doc["params"][0]["dtype"] = "float64";
  check_doc_error(doc, "graph.json: params[0] 'conv.weight': dtype 'float64' is not supported (expected float32)");
  doc = small_graph();
  doc["inputs"][0] = "x";
  check_doc_error(doc, "graph.json: inputs[0]: expected an object, got \"x\"");
}

TEST_CASE("model_dir: bad shapes are refused") {
  json doc = small_graph();
  doc["inputs"][0]["shape"] = {2, "N", 4, 4};
  check_doc_error(doc, "inputs[0] 'x': shape [2,\"N\",4,4]: \"N\" (the batch) may only be dimension 0");
  doc = small_graph();
  doc["inputs"][0]["shape"] = {"N", 0, 4, 4};
  check_doc_error(doc, "inputs[0] 'x': shape [\"N\",0,4,4]: expected integers >= 1 (or \"N\" first)");
  doc = small_graph();
  doc["params"][1]["shape"] = {"N"};
  check_doc_error(doc, "params[1] 'conv.bias': shape [\"N\"]: \"N\" (the batch) may only be dimension 0");
  doc = small_graph();
  doc["params"][1]["shape"] = {1, 1, 1, 1, 1, 1, 1, 1, 3};
  check_doc_error(doc, "params[1] 'conv.bias': shape has 9 dimensions, more than the limit of 8");
  doc = small_graph();
  doc["params"][1]["shape"] = {65536, 65536};
  check_doc_error(doc, "params[1] 'conv.bias': shape [65536,65536] has more than 2147483648 elements");
}

TEST_CASE("model_dir: rank-0 parameters (scalars) load from inline data and from NPY files") {
  // x * 0.5 + 3, as an exporter writes the constants of arithmetic.
  json doc = small_graph();
  doc["params"].push_back(json::parse(
      R"({"name": "half", "dtype": "float32", "shape": [], "data": [0.5]})"));
  doc["params"].push_back(json::parse(
      R"({"name": "three", "dtype": "float32", "shape": [], "file": "weights/three.npy"})"));
  doc["nodes"].push_back(json::parse(R"({"name": "mul", "op": "mul", "inputs": ["relu", "half"]})"));
  doc["nodes"].push_back(json::parse(R"({"name": "add", "op": "add", "inputs": ["mul", "three"]})"));
  doc["outputs"] = {"add"};
  TempDir dir;
  write_model(dir, doc);
  kiln::loaders::write_npy((dir.path / "weights/three.npy").string(), Tensor(Shape{}, {3}));
  Graph g = load_model_dir(dir.str());
  const kiln::ir::Value* half = g.find_value("half");
  const kiln::ir::Value* three = g.find_value("three");
  REQUIRE(half);
  REQUIRE(three);
  CHECK(half->shape == Shape{});
  CHECK(half->data->data.at(0) == 0.5f);
  CHECK(three->shape == Shape{});
  CHECK(three->data->data.at(0) == 3.0f);
}

TEST_CASE("model_dir: values, params, nodes and inputs share one namespace") {
  json doc = small_graph();
  doc["params"][1]["name"] = "x";
  check_doc_error(doc, "graph.json: params[1] 'x': the name 'x' is already defined");
  doc = small_graph();
  doc["nodes"][1]["name"] = "conv";
  check_doc_error(doc, "graph.json: node 'conv': the name 'conv' is already defined");
  doc = small_graph();
  doc["nodes"][0]["name"] = "conv.bias";
  check_doc_error(doc, "graph.json: node 'conv.bias': the name 'conv.bias' is already defined");
  doc = small_graph();
  doc["inputs"].push_back(doc["inputs"][0]);
  check_doc_error(doc, "graph.json: inputs[1] 'x': the name 'x' is already defined");
}

TEST_CASE("model_dir: an input used before it is defined is refused") {
  json doc = small_graph();
  doc["nodes"][0]["inputs"][0] = "foo";
  TempDir dir;
  write_model(dir, doc);
  check_load_error(dir, dir.graph_json() + ": node 'conv': input 'foo' is not defined");
  doc = small_graph();
  std::swap(doc["nodes"][0], doc["nodes"][1]);  // relu before the conv it reads
  check_doc_error(doc, "graph.json: node 'relu': input 'conv' is the output of a later node "
                       "(nodes[1]): nodes must be in topological order, without cycles");
  doc = small_graph();
  doc["nodes"][1]["inputs"][0] = "relu";
  check_doc_error(doc, "graph.json: node 'relu': input 'relu' is the node's own output (a cycle)");
}

TEST_CASE("model_dir: unknown or repeated output names are refused") {
  json doc = small_graph();
  doc["outputs"] = {"fc"};
  check_doc_error(doc, "graph.json: output 'fc' is not defined");
  doc["outputs"] = {"relu", "relu"};
  check_doc_error(doc, "graph.json: output 'relu' is listed twice");
  doc["outputs"] = json::array();
  check_doc_error(doc, "graph.json: field 'outputs': the graph has no outputs");
}

TEST_CASE("model_dir: attributes of other JSON types are refused naming node and attribute") {
  const std::string prefix = "graph.json: node 'conv': attribute '";
  const std::string expected = "': expected an integer, a real, a list of integers or a string, got ";
  json doc = small_graph();
  doc["nodes"][0]["attrs"]["groups"] = true;
  check_doc_error(doc, prefix + "groups" + expected + "true");
  doc["nodes"][0]["attrs"]["groups"] = nullptr;
  check_doc_error(doc, prefix + "groups" + expected + "null");
  doc["nodes"][0]["attrs"]["groups"] = 1;
  doc["nodes"][0]["attrs"]["stride"] = {1.5, 2};
  check_doc_error(doc, prefix + "stride" + expected + "[1.5,2]");
  doc["nodes"][0]["attrs"]["stride"] = {{"a", 1}};
  check_doc_error(doc, prefix + "stride" + expected + "{\"a\":1}");
  doc["nodes"][0]["attrs"]["stride"] = json::parse("18446744073709551615");
  check_doc_error(doc, prefix + "stride" + expected + "18446744073709551615");
}

TEST_CASE("model_dir: a parameter whose shape disagrees with its NPY file or inline data is refused") {
  json doc = small_graph();
  doc["params"][0]["shape"] = {3, 2};
  TempDir dir;
  write_model(dir, doc);
  check_load_error(dir, dir.graph_json() + ": params[0] 'conv.weight': shape [3, 2] disagrees with " +
                            (dir.path / "weights/conv.weight.npy").string() + " shape [3, 2, 1, 1]");
  doc = small_graph();
  doc["params"][1]["data"] = {1, 2};
  check_doc_error(doc, "params[1] 'conv.bias': shape [3] needs 3 values, 'data' has 2");
  doc["params"][1]["data"] = {1, 2, "3"};
  check_doc_error(doc, "params[1] 'conv.bias': data[2]: expected a number, got \"3\"");
  doc["params"][1]["data"] = {1, 2, 1e300};
  check_doc_error(doc, "params[1] 'conv.bias': data[2]: 1e+300 does not fit float32");
  doc = small_graph();
  doc["params"][1]["file"] = "weights/conv.weight.npy";
  check_doc_error(doc, "params[1] 'conv.bias': expected exactly one of 'file' and 'data'");
  doc["params"][1].erase("file");
  doc["params"][1].erase("data");
  check_doc_error(doc, "params[1] 'conv.bias': expected exactly one of 'file' and 'data'");
}

TEST_CASE("model_dir: a broken NPY file is reported under its name in the model directory") {
  TempDir dir;
  write_model(dir, small_graph());
  write_text(dir.path / "weights/conv.weight.npy", "not numpy");
  check_load_error(dir, (dir.path / "weights/conv.weight.npy").string() + ": not an NPY file (bad magic");
}

TEST_CASE("model_dir: weight paths cannot leave the model directory") {
  TempDir dir;
  json doc = small_graph();
  doc["params"][0]["file"] = "../x.npy";
  write_model(dir, doc);
  check_load_error(dir, dir.graph_json() + ": params[0] 'conv.weight': file '../x.npy' must not contain '..'");

  doc["params"][0]["file"] = "weights/../weights/conv.weight.npy";
  write_model(dir, doc);
  check_load_error(dir, "file 'weights/../weights/conv.weight.npy' must not contain '..'");

  doc["params"][0]["file"] = "/etc/passwd";
  write_model(dir, doc);
  check_load_error(dir, "params[0] 'conv.weight': file '/etc/passwd' must be a path relative to the model directory");

  doc["params"][0]["file"] = "weights/missing.npy";
  write_model(dir, doc);
  check_load_error(dir, "params[0] 'conv.weight': file 'weights/missing.npy' cannot be opened");

  doc["params"][0]["file"] = "weights";
  write_model(dir, doc);
  check_load_error(dir, "params[0] 'conv.weight': file 'weights' is not a regular file");
}

TEST_CASE("model_dir: a symlink in weights/ pointing outside the directory is refused") {
  TempDir dir;
  TempDir outside;
  kiln::loaders::write_npy((outside.path / "w.npy").string(), kWeight);
  fs::create_symlink(outside.path / "w.npy", dir.path / "weights/escape.npy");
  json doc = small_graph();
  doc["params"][0]["file"] = "weights/escape.npy";
  write_model(dir, doc);
  check_load_error(dir, "params[0] 'conv.weight': file 'weights/escape.npy' resolves to " +
                            fs::canonical(outside.path / "w.npy").string() +
                            ", outside the model directory");

  // A symlinked graph.json is held to the same rule.
  fs::remove(dir.path / "graph.json");
  write_text(outside.path / "graph.json", small_graph().dump());
  fs::create_symlink(outside.path / "graph.json", dir.path / "graph.json");
  check_load_error(dir, "file 'graph.json' resolves to ");
}

TEST_CASE("model_dir: a symlink that stays inside the directory is followed") {
  TempDir dir;
  json doc = small_graph();
  doc["params"][0]["file"] = "weights/alias.npy";
  write_model(dir, doc);
  fs::create_symlink("conv.weight.npy", dir.path / "weights/alias.npy");
  Graph g = load_model_dir(dir.str());
  CHECK(same_bits(*g.nodes()[0]->inputs[1]->data, kWeight));
}

TEST_CASE("model_dir: node and parameter counts past the limits are refused") {
  json doc = small_graph();
  doc["nodes"] = json::array();
  for (size_t i = 0; i <= kiln::loaders::kMaxNodes; ++i) doc["nodes"].push_back(json::object());
  check_doc_error(doc, "graph.json: field 'nodes': 100001 entries, more than the limit of 100000");
  doc = small_graph();
  doc["params"] = json::array();
  for (size_t i = 0; i <= kiln::loaders::kMaxParams; ++i) doc["params"].push_back(json::object());
  check_doc_error(doc, "graph.json: field 'params': 400001 entries, more than the limit of 400000");
}

TEST_CASE("model_dir: save then load gives back each built-in model bit for bit") {
  for (const std::string& name : kiln::loaders::builtin_names()) {
    CAPTURE(name);
    Graph g = kiln::loaders::builtin_model(name, 7);
    TempDir dir;  // holds an empty weights/: the model goes into a folder of its own
    fs::path saved = dir.path / "m";
    save_model_dir(g, saved.string());
    CHECK(fs::exists(saved / "weights" / (g.params()[0]->name + ".npy")));
    check_same_graph(g, load_model_dir(saved.string()));
  }
}

TEST_CASE("model_dir: the saved graph.json lists batch inputs as N and nodes in graph order") {
  Graph g = kiln::loaders::builtin_model("resnet18", 1);
  TempDir dir;
  fs::path saved = dir.path / "m";
  save_model_dir(g, saved.string());
  std::ifstream in(saved / "graph.json");
  json doc = json::parse(in);
  CHECK(doc["format"] == "kiln");
  CHECK(doc["version"] == 1);
  CHECK(doc["inputs"][0]["shape"] == json::parse(R"(["N", 3, 224, 224])"));
  REQUIRE(doc["nodes"].size() == g.nodes().size());
  for (size_t i = 0; i < g.nodes().size(); ++i) CHECK(doc["nodes"][i]["name"] == g.nodes()[i]->name);
  CHECK(doc["params"][0]["file"] == "weights/conv1.weight.npy");
}

TEST_CASE("model_dir: odd parameter names get safe, distinct file names and attributes round trip exactly") {
  Graph g;
  kiln::ir::Value* x = g.add_input("x", {kiln::ir::kBatch, 4});
  kiln::ir::Value* a = g.add_param("a/b:c", Tensor({4}, {1, 2, 3, 4}));
  kiln::ir::Value* b = g.add_param("a_b_c", Tensor({4}, {5, 6, 7, 8}));
  kiln::ir::Value* c = g.add_param("A_B_C", Tensor(Shape{}, {9}));
  kiln::ir::Node* n = g.add_node("n", "custom", {x, a, b, c},
                                 {{"third", 1.0 / 3.0}, {"tiny", 4.9e-324}, {"big", 1.7976931348623157e308},
                                  {"neg", int64_t(-9007199254740993)}, {"empty", std::vector<int64_t>{}},
                                  {"s", std::string("quote\" and \\ slash")}});
  g.set_outputs({n->output});
  TempDir dir;
  fs::path saved = dir.path / "m";
  save_model_dir(g, saved.string());
  CHECK(fs::exists(saved / "weights/a_b_c.npy"));
  CHECK(fs::exists(saved / "weights/a_b_c_1.npy"));
  CHECK(fs::exists(saved / "weights/A_B_C_2.npy"));
  CHECK(kiln::loaders::param_file_stem("layer1/0.conv weight") == "layer1_0.conv_weight");
  check_same_graph(g, load_model_dir(saved.string()));
}
