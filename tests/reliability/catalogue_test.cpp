// The catalogue of malformed models: one table, each row a way a model
// directory (or an input tensor) can be broken, run end to end through
// `engine-run DIR`: exit status 1, exactly one line on stderr, and the
// expected message. Rows that break the model itself are also loaded with
// engine::load_model, which must throw kiln::Error with the same message.
//
// Every row starts from the built-in tutorial model saved as a directory
// (graph.json + weights/*.npy; 1 channel, 1x1) and breaks one thing.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "ir/error.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"
#include "tests/engine/run_command.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// --- ways to break a model directory ------------------------------------------

json read_graph(const fs::path& dir) { return json::parse(read_file(dir / "graph.json")); }
void write_graph(const fs::path& dir, const json& doc) { write_file(dir / "graph.json", doc.dump(1)); }

json& node(json& doc, const std::string& name) {
  for (json& n : doc["nodes"]) {
    if (n["name"] == name) return n;
  }
  throw std::runtime_error("catalogue: no node " + name);
}

json& param(json& doc, const std::string& name) {
  for (json& p : doc["params"]) {
    if (p["name"] == name) return p;
  }
  throw std::runtime_error("catalogue: no param " + name);
}

// Replaces parameter `name` by inline data of the given shape.
void set_inline(json& doc, const std::string& name, const json& shape, const json& data) {
  json& p = param(doc, name);
  p.erase("file");
  p["shape"] = shape;
  p["data"] = data;
}

// NPY bytes: magic, version, little-endian header length, header, data.
std::string npy(const std::string& header, const std::string& data, int major = 1) {
  std::string out = std::string("\x93NUMPY", 6) + char(major) + '\0';
  size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i) out += char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string npy_header(const std::string& descr, const std::string& order, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }\n";
}

const std::string kOneFloat("\x00\x00\x80\x3f", 4);  // 1.0f

// The tutorial's conv1 weight, [1, 1, 1, 1]: the NPY the rows below corrupt.
const char* kConv1Weight = "weights/conv1.weight.npy";

using Break = std::function<void(const fs::path& dir)>;

Break edit_graph(std::function<void(json&)> edit) {
  return [edit](const fs::path& dir) {
    json doc = read_graph(dir);
    edit(doc);
    write_graph(dir, doc);
  };
}

Break graph_text(const std::string& text) {
  return [text](const fs::path& dir) { write_file(dir / "graph.json", text); };
}

// Replaces the first `from` in graph.json's text by `to`.
Break replace_text(const std::string& from, const std::string& to) {
  return [from, to](const fs::path& dir) {
    std::string text = read_file(dir / "graph.json");
    size_t at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("catalogue: no " + from + " in graph.json");
    write_file(dir / "graph.json", text.replace(at, from.size(), to));
  };
}

Break weight_bytes(const std::string& bytes) {
  return [bytes](const fs::path& dir) { write_file(dir / kConv1Weight, bytes); };
}

// Stage::run: the --input tensor's bytes.
Break input_bytes(const std::string& bytes) {
  return [bytes](const fs::path& dir) { write_file(dir / "input.npy", bytes); };
}

// Node `name` becomes `op` over `inputs` with `attrs`. The nodes after it
// read a value that no longer fits them, but are never reached: the broken
// node is refused first.
Break replace_node(const std::string& name, const std::string& op, const json& inputs,
                   const json& attrs) {
  return edit_graph([=](json& doc) {
    json& n = node(doc, name);
    n["op"] = op;
    n["inputs"] = inputs;
    n["attrs"] = attrs;
  });
}

Break conv1_attr(const std::string& key, const json& value) {
  return edit_graph([key, value](json& doc) { node(doc, "conv1")["attrs"][key] = value; });
}

// Turns node `name` into an `op` node reading `inputs`; its output keeps the
// name, so the nodes after it read it as before.
void make_op(json& doc, const std::string& name, const std::string& op, const json& inputs,
             const json& attrs = json::object()) {
  json& n = node(doc, name);
  n["op"] = op;
  n["inputs"] = inputs;
  n["attrs"] = attrs;
}

Break as_op(const std::string& name, const std::string& op, const json& inputs,
            const json& attrs = json::object()) {
  return edit_graph([=](json& doc) { make_op(doc, name, op, inputs, attrs); });
}

// --- the catalogue ---------------------------------------------------------------

enum class Stage {
  load,  // the model is broken: engine-run and engine::load_model both refuse it
  fuse,  // loads, but folding its BatchNorms must fail: engine-run --fuse
  run,   // the model is fine, the input tensor is not: engine-run --input DIR/input.npy
};

struct Case {
  const char* name;
  Stage stage;
  Break breaks;
  std::string message;   // expected in the one-line error
};

std::vector<Case> catalogue() {
  const std::string f4 = npy_header("<f4", "False", "(1, 1, 1, 1)");
  return {
      // NPY weight files
      {"npy: truncated data", Stage::load, weight_bytes(npy(f4, kOneFloat.substr(0, 2))),
       "data is truncated: shape [1, 1, 1, 1] needs 4 bytes, the file has 2"},
      {"npy: truncated header", Stage::load, weight_bytes(npy(f4, kOneFloat).substr(0, 30)),
       "truncated NPY file: the header needs"},
      {"npy: empty file", Stage::load, weight_bytes(""), "not an NPY file (bad magic"},
      {"npy: bad magic", Stage::load, weight_bytes("\x93NUMPX\x01\x00" + std::string(64, ' ')),
       "not an NPY file (bad magic"},
      {"npy: unsupported version 4.0", Stage::load, weight_bytes(npy(f4, kOneFloat, 4)),
       "unsupported NPY version 4.0"},
      {"npy: float64 instead of float32", Stage::load,
       weight_bytes(npy(npy_header("<f8", "False", "(1, 1, 1, 1)"), std::string(8, '\0'))),
       "dtype '<f8' is not supported (Kiln reads '<f4', little-endian float32)"},
      {"npy: big-endian float32", Stage::load,
       weight_bytes(npy(npy_header(">f4", "False", "(1, 1, 1, 1)"), kOneFloat)),
       "dtype '>f4' is not supported"},
      {"npy: fortran order", Stage::load,
       weight_bytes(npy(npy_header("<f4", "True", "(1, 1, 1, 1)"), kOneFloat)),
       "fortran_order True is not supported"},
      {"npy: header claims more data than the file has", Stage::load,
       weight_bytes(npy(npy_header("<f4", "False", "(2, 2, 1, 1)"), kOneFloat)),
       "data is truncated: shape [2, 2, 1, 1] needs 16 bytes, the file has 4"},
      {"npy: data past the shape", Stage::load, weight_bytes(npy(f4, kOneFloat + kOneFloat)),
       "4 trailing bytes after the data of shape [1, 1, 1, 1]"},
      {"npy: element count past the limit", Stage::load,
       weight_bytes(npy(npy_header("<f4", "False", "(65536, 65536)"), kOneFloat)),
       "shape [65536, 65536] has more than 2147483648 elements, the limit"},
      {"npy: a dimension past the limit", Stage::load,
       weight_bytes(npy(npy_header("<f4", "False", "(99999999999999999999,)"), kOneFloat)),
       "shape has a dimension larger than the limit of 2147483648 elements"},
      {"npy: rank past the limit", Stage::load,
       weight_bytes(npy(npy_header("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), kOneFloat)),
       "shape has more than 8 dimensions, the limit"},
      {"npy: header length past the limit", Stage::load,
       weight_bytes(std::string("\x93NUMPY\x02\x00\x00\x00\x10\x00", 12) + std::string(64, ' ')),
       "NPY header is 1048576 bytes, more than the limit of 65536"},
      {"npy: header is not a dict", Stage::load, weight_bytes(npy("['<f4', False, (1,)]\n", kOneFloat)),
       "NPY header is not a dict"},
      {"npy: header without a shape", Stage::load,
       weight_bytes(npy("{'descr': '<f4', 'fortran_order': False, }\n", kOneFloat)),
       "NPY header has no 'shape' key"},
      {"npy: file shape disagrees with graph.json", Stage::load,
       weight_bytes(npy(npy_header("<f4", "False", "(1,)"), kOneFloat)),
       "shape [1, 1, 1, 1] disagrees with"},

      // graph.json as a file and as JSON
      {"json: graph.json missing", Stage::load, [](const fs::path& d) { fs::remove(d / "graph.json"); },
       "file 'graph.json' cannot be opened: No such file or directory"},
      {"json: graph.json past the size limit", Stage::load,
       [](const fs::path& d) { fs::resize_file(d / "graph.json", (uint64_t(64) << 20) + 1); },
       "the file is 67108865 bytes, more than the limit of 67108864"},
      {"json: not JSON", Stage::load, graph_text("{\"format\": \"kiln\", \"version\": 1,,}"),
       "invalid JSON at byte"},
      {"json: truncated", Stage::load, graph_text("{\"format\": \"kiln\", \"version\": 1, \"nodes\": ["),
       "invalid JSON at byte"},
      {"json: bad UTF-8 in a string", Stage::load,
       graph_text("{\"format\": \"kiln\", \"producer\": \"\xc3\x28\"}"), "ill-formed UTF-8 byte"},
      {"json: nested past the depth limit", Stage::load,
       graph_text(std::string(100, '[') + std::string(100, ']')), "JSON nests deeper than 64 levels"},
      {"json: a number past double's range (a fuzz finding)", Stage::load,
       replace_text("\"version\": 1", "\"version\": 1e999"), "invalid JSON: number overflow"},
      {"json: an object repeats a key", Stage::load,
       graph_text("{\"format\": \"kiln\", \"format\": \"kiln\"}"), "JSON object repeats the key \"format\""},
      {"json: another format", Stage::load, edit_graph([](json& d) { d["format"] = "onnx"; }),
       "field 'format': expected \"kiln\", got \"onnx\""},
      {"json: a newer version", Stage::load, edit_graph([](json& d) { d["version"] = 2; }),
       "field 'version': this Kiln reads version 1, got 2"},
      {"json: a required field missing", Stage::load, edit_graph([](json& d) { d.erase("nodes"); }),
       "missing field 'nodes'"},
      {"json: an unknown field (a typo)", Stage::load,
       edit_graph([](json& d) { node(d, "conv1")["attr"] = json::object(); }),
       "nodes[0]: unknown field 'attr'"},
      {"json: inline data that does not fit float32", Stage::load,
       edit_graph([](json& d) { set_inline(d, "conv1.bias", {1}, {1e39}); }),
       "params[1] 'conv1.bias': data[0]: 1e+39 does not fit float32"},
      {"json: inline data of the wrong length", Stage::load,
       edit_graph([](json& d) { set_inline(d, "conv1.bias", {1}, {0.5, 0.25}); }),
       "shape [1] needs 1 values, 'data' has 2"},
      {"json: an input shape past the element limit", Stage::load,
       edit_graph([](json& d) { d["inputs"][0]["shape"] = {"N", 65536, 65536, 1}; }),
       "has more than 2147483648 elements, the limit"},
      {"json: an input with a zero dimension", Stage::load,
       edit_graph([](json& d) { d["inputs"][0]["shape"] = {"N", 1, 0, 1}; }),
       "expected integers >= 1 (or \"N\" first)"},

      // weight paths
      {"path: '..' leaves the model directory", Stage::load,
       edit_graph([](json& d) { param(d, "conv1.weight")["file"] = "weights/../../conv1.weight.npy"; }),
       "file 'weights/../../conv1.weight.npy' must not contain '..'"},
      {"path: an absolute path", Stage::load,
       edit_graph([](json& d) { param(d, "conv1.weight")["file"] = "/etc/passwd"; }),
       "file '/etc/passwd' must be a path relative to the model directory"},
      {"path: a symlink pointing out of the directory", Stage::load,
       [](const fs::path& d) {
         fs::path outside = d.parent_path() / (d.filename().string() + "-outside.npy");
         fs::copy_file(d / kConv1Weight, outside);
         fs::remove(d / kConv1Weight);
         fs::create_symlink(outside, d / kConv1Weight);
       },
       "outside the model directory"},
      {"path: a missing weight file", Stage::load, [](const fs::path& d) { fs::remove(d / kConv1Weight); },
       "file 'weights/conv1.weight.npy' cannot be opened: No such file or directory"},
      {"path: a directory where a weight file should be", Stage::load,
       [](const fs::path& d) {
         fs::remove(d / kConv1Weight);
         fs::create_directory(d / kConv1Weight);
       },
       "file 'weights/conv1.weight.npy' is not a regular file"},

      // the graph
      {"graph: an unknown op", Stage::load, edit_graph([](json& d) { node(d, "conv2")["op"] = "conv3d"; }),
       "node 'conv2' (conv3d): unknown op 'conv3d'"},
      {"graph: wrong arity", Stage::load,
       edit_graph([](json& d) { node(d, "conv1")["inputs"] = {"x"}; }),
       "node 'conv1' (conv2d): expected 2 to 3 inputs, got 1"},
      {"graph: an undefined input", Stage::load,
       edit_graph([](json& d) { node(d, "conv2")["inputs"][0] = "bn9"; }),
       "node 'conv2': input 'bn9' is not defined"},
      {"graph: a value defined twice", Stage::load,
       edit_graph([](json& d) { node(d, "conv2")["name"] = "conv1"; }),
       "node 'conv1': the name 'conv1' is already defined"},
      {"graph: a parameter named like a graph input", Stage::load,
       edit_graph([](json& d) { param(d, "conv1.bias")["name"] = "x"; }),
       "params[1] 'x': the name 'x' is already defined"},
      {"graph: a cycle", Stage::load,
       edit_graph([](json& d) { node(d, "conv1")["inputs"][0] = "wrapped.mod"; }),
       "node 'conv1': input 'wrapped.mod' is the output of a later node (nodes[5]): nodes must be in "
       "topological order, without cycles"},
      {"graph: a node reading its own output", Stage::load,
       edit_graph([](json& d) { node(d, "conv2")["inputs"][0] = "conv2"; }),
       "node 'conv2': input 'conv2' is the node's own output (a cycle)"},
      {"graph: an undefined output", Stage::load, edit_graph([](json& d) { d["outputs"] = {"fc"}; }),
       "output 'fc' is not defined"},
      {"graph: an attribute of the wrong type", Stage::load, conv1_attr("stride", "2"),
       "node 'conv1' (conv2d): attribute 'stride': expected a list of integers, got \"2\""},
      {"graph: an unknown attribute", Stage::load, conv1_attr("strides", {1, 1}),
       "node 'conv1' (conv2d): unknown attribute 'strides'"},
      {"graph: stride 0", Stage::load, conv1_attr("stride", {0, 1}),
       "node 'conv1' (conv2d): attribute 'stride': expected 2 positive integers, got [0, 1]"},
      {"graph: negative padding", Stage::load, conv1_attr("padding", {-1, 0}),
       "node 'conv1' (conv2d): attribute 'padding': expected 2 non-negative integers, got [-1, 0]"},
      {"graph: groups not dividing the channels", Stage::load, conv1_attr("groups", 2),
       "node 'conv1' (conv2d): groups 2 must divide input channels 1 and output channels 1"},
      {"graph: a conv activation that Kiln does not have", Stage::load,
       conv1_attr("activation", "swish"),
       "node 'conv1' (conv2d): attribute 'activation': expected one of \"none\", \"relu\", "
       "\"clamp\", \"sigmoid\", \"silu\", \"hardswish\", \"hardsigmoid\", \"tanh\", \"gelu\", "
       "\"leaky_relu\", \"elu\", got \"swish\""},
      {"graph: a conv activation attribute its activation does not take", Stage::load,
       edit_graph([](json& d) {
         node(d, "conv1")["attrs"]["activation"] = "relu";
         node(d, "conv1")["attrs"]["activation_alpha"] = 1.0;
       }),
       "node 'conv1' (conv2d): attribute 'activation_alpha' does not apply to activation \"relu\""},
      {"graph: a conv clamp post-op with min above max", Stage::load,
       edit_graph([](json& d) {
         node(d, "conv1")["attrs"]["activation"] = "clamp";
         node(d, "conv1")["attrs"]["activation_min"] = 2;
         node(d, "conv1")["attrs"]["activation_max"] = 1;
       }),
       "node 'conv1' (conv2d): attributes 'activation_min' and 'activation_max': expected min <= "
       "max, got 2 > 1"},
      {"graph: an activation past the element limit", Stage::load,
       conv1_attr("padding", {1048576, 1048576}),
       "node 'conv1' (conv2d): output shape [N, 1, 2097153, 2097153] has more than 2147483648 "
       "elements per sample, the limit"},
      {"graph: a negative eps", Stage::load,
       edit_graph([](json& d) { node(d, "bn1")["attrs"]["eps"] = -0.5; }),
       "node 'bn1' (batchnorm): attribute 'eps': expected a finite non-negative number, got -0.5"},
      {"graph: a conv weight that disagrees with the input channels", Stage::load,
       edit_graph([](json& d) { set_inline(d, "conv2.weight", {1, 2, 1, 1}, {0.5, -0.25}); }),
       "node 'conv2' (conv2d): weight 'conv2.weight' [1, 2, 1, 1]: expected 1 input channels per group"},
      {"graph: a conv bias of the wrong length", Stage::load,
       edit_graph([](json& d) { set_inline(d, "conv1.bias", {2}, {0.5, -0.25}); }),
       "node 'conv1' (conv2d): bias 'conv1.bias': expected shape [1], got [2]"},
      {"graph: a BN vector that disagrees with the channels", Stage::load,
       edit_graph([](json& d) { set_inline(d, "bn1.running_mean", {3}, {0.1, 0.2, 0.3}); }),
       "node 'bn1' (batchnorm): running_mean 'bn1.running_mean': expected shape [1] (x has 1 "
       "channels), got [3]"},
      {"graph: a BN with weight but no bias", Stage::load,
       edit_graph([](json& d) { node(d, "bn1")["inputs"].erase(4); }),
       "node 'bn1' (batchnorm): expected weight and bias both or neither, got 4 inputs"},
      // Refused when folded; batchnorm's validate does not look at parameter values (yet).
      {"graph: a negative BN variance", Stage::load,
       edit_graph([](json& d) { set_inline(d, "bn1.running_var", {1}, {-1.5}); }),
       "running_var + eps must be positive, got -1.5 + 1e-05"},

      // elementwise ops spliced in place of bn1 (conv1's output is [N, 1, 1, 1])
      {"ops: clamp with min above max", Stage::load,
       as_op("bn1", "clamp", {"conv1"}, {{"min", 2}, {"max", 1}}),
       "node 'bn1' (clamp): attributes 'min' and 'max': expected min <= max, got 2 > 1"},
      {"ops: clamp with neither bound", Stage::load, as_op("bn1", "clamp", {"conv1"}),
       "node 'bn1' (clamp): clamp needs attribute 'min' or 'max', got neither"},
      {"ops: an activation attribute past float32's range", Stage::load,
       as_op("bn1", "elu", {"conv1"}, {{"alpha", 1e39}}),
       "node 'bn1' (elu): attribute 'alpha': expected a finite float32 number, got 1e+39"},
      {"ops: gelu with an unknown approximation", Stage::load,
       as_op("bn1", "gelu", {"conv1"}, {{"approximate", "erf"}}),
       "node 'bn1' (gelu): attribute 'approximate': expected \"none\" or \"tanh\", got \"erf\""},
      {"ops: shapes that cannot broadcast", Stage::load,
       edit_graph([](json& d) {
         set_inline(d, "bn1.weight", {3, 1, 1, 1}, {0.5, 1.5, 2.5});
         make_op(d, "bn1", "mul", {"conv1", "bn1.weight"});
       }),
       "node 'bn1' (mul): cannot broadcast a 'conv1' [N, 1, 1, 1] with b 'bn1.weight' [3, 1, 1, 1]"},
      {"ops: a binary op of two parameters", Stage::load,
       as_op("bn1", "sub", {"bn1.weight", "bn1.bias"}),
       "node 'bn1' (sub): a 'bn1.weight' and b 'bn1.bias' are both parameters: expected at least "
       "one activation"},
      {"ops: a binary op with an empty parameter", Stage::load,
       edit_graph([](json& d) {
         set_inline(d, "bn1.weight", {1, 0}, json::array());
         make_op(d, "bn1", "div", {"conv1", "bn1.weight"});
       }),
       "node 'bn1' (div): input 1 (b) 'bn1.weight': expected positive dimensions, got [1, 0]"},
      // the shape, pooling and normalisation ops, each in place of bn1 (conv1 is [N, 1, 1, 1])
      {"ops: concat of shapes that disagree", Stage::load,
       replace_node("bn1", "concat", {"conv1", "conv1.bias"}, {{"axis", 1}}),
       "node 'bn1' (concat): inputs must have equal shapes except along dim 1, got 'conv1' "
       "[N, 1, 1, 1] and 'conv1.bias' [1]"},
      {"ops: concat along an axis past the rank", Stage::load,
       replace_node("bn1", "concat", {"conv1", "x"}, {{"axis", 4}}),
       "node 'bn1' (concat): attribute 'axis': expected a dimension of the inputs (rank 4), got 4"},
      {"ops: permute with a repeated dim", Stage::load,
       replace_node("bn1", "permute", {"conv1"}, {{"dims", {0, 1, 1, 2}}}),
       "node 'bn1' (permute): attribute 'dims' [0, 1, 1, 2]: dim 1 is repeated, expected a "
       "permutation"},
      {"ops: permute with a dim out of range", Stage::load,
       replace_node("bn1", "permute", {"conv1"}, {{"dims", {0, 1, 2, 7}}}),
       "node 'bn1' (permute): attribute 'dims': expected a dimension of x (rank 4), got 7"},
      {"ops: reshape to another element count", Stage::load,
       replace_node("bn1", "reshape", {"conv1"}, {{"shape", {0, 2}}}),
       "node 'bn1' (reshape): attribute 'shape' [0, 2]: the shape holds more elements than x"},
      {"ops: reshape with two -1s", Stage::load,
       replace_node("bn1", "reshape", {"conv1"}, {{"shape", {0, -1, -1}}}),
       "node 'bn1' (reshape): attribute 'shape' [0, -1, -1]: two dims are -1"},
      {"ops: reshape to a negative size", Stage::load,
       replace_node("bn1", "reshape", {"conv1"}, {{"shape", {0, -3}}}),
       "node 'bn1' (reshape): attribute 'shape' [0, -3]: dim 1 is -3, expected -1, 0 or a "
       "positive size"},
      {"ops: slice past the end", Stage::load,
       replace_node("bn1", "slice", {"conv1"}, {{"axis", 1}, {"start", 0}, {"end", 2}}),
       "node 'bn1' (slice): start 0, end 2: expected 0 <= start < end <= 1"},
      {"ops: an empty slice", Stage::load,
       replace_node("bn1", "slice", {"conv1"}, {{"axis", -1}, {"start", 0}, {"end", 0}}),
       "node 'bn1' (slice): start 0, end 0: expected 0 <= start < end <= 1"},
      {"ops: mean over a repeated dim", Stage::load,
       replace_node("bn1", "mean", {"conv1"}, {{"dims", {1, -3}}}),
       "node 'bn1' (mean): attribute 'dims' [1, -3]: dim 1 is repeated"},
      {"ops: adaptive_avg_pool2d to a zero size", Stage::load,
       replace_node("bn1", "adaptive_avg_pool2d", {"conv1"}, {{"output_size", {0, 1}}}),
       "node 'bn1' (adaptive_avg_pool2d): attribute 'output_size': expected 2 positive integers, "
       "got [0, 1]"},
      {"ops: layer_norm over dims x does not end with", Stage::load,
       replace_node("bn1", "layer_norm", {"conv1"}, {{"normalized_shape", {2}}}),
       "node 'bn1' (layer_norm): attribute 'normalized_shape' [2]: expected the last dims of x "
       "'conv1' [N, 1, 1, 1]"},
      {"ops: layer_norm with a weight of the wrong shape", Stage::load,
       replace_node("bn1", "layer_norm", {"conv1", "conv1.weight"}, {{"normalized_shape", {1}}}),
       "node 'bn1' (layer_norm): weight 'conv1.weight': expected shape [1], got [1, 1, 1, 1]"},

      // the input tensor given on the command line
      {"input: a shape that does not fit the model", Stage::run,
       input_bytes(npy(npy_header("<f4", "False", "(1, 2, 1, 1)"), kOneFloat + kOneFloat)),
       "shape [1, 2, 1, 1] does not fit model input 'x' [N, 1, 1, 1]"},
      {"input: float64 instead of float32", Stage::run,
       input_bytes(npy(npy_header("<f8", "False", "(1, 1, 1, 1)"), std::string(8, '\0'))),
       "dtype '<f8' is not supported"},
      {"input: fortran order", Stage::run,
       input_bytes(npy(npy_header("<f4", "True", "(1, 1, 1, 1)"), kOneFloat)),
       "fortran_order True is not supported"},
      {"input: a batch of 0", Stage::run, input_bytes(npy(npy_header("<f4", "False", "(0, 1, 1, 1)"), "")),
       "batch dimension is 0"},
  };
}

// The tutorial model as a fresh model directory.
fs::path tutorial_dir() {
  fs::path dir = kiln::test::make_temp_dir("kiln-catalogue");
  kiln::loaders::save_model_dir(kiln::loaders::builtin_model("tutorial"), dir.string());
  return dir;
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("catalogue: the tutorial model directory runs before anything is broken") {
  fs::path dir = tutorial_dir();
  auto r = kiln::test::run_engine(dir.string() + " --fuse");
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  fs::remove_all(dir);
}

TEST_CASE("catalogue: every malformed model or input is refused with exit 1 and a one-line error") {
  const std::vector<Case> cases = catalogue();
  CHECK(cases.size() >= 30);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    fs::path dir = tutorial_dir();
    std::string args = dir.string();
    c.breaks(dir);
    if (c.stage == Stage::fuse) args += " --fuse";
    if (c.stage == Stage::run) args += " --input " + (dir / "input.npy").string();
    auto r = kiln::test::run_engine(args);
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.rfind("engine-run: ", 0) == 0);
    CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, "stderr: " << r.err);
    if (c.stage == Stage::load)
      CHECK_THROWS_WITH_AS(kiln::engine::load_model(dir.string()), doctest::Contains(c.message.c_str()),
                           kiln::Error);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove(dir.parent_path() / (dir.filename().string() + "-outside.npy"), ec);
  }
}
