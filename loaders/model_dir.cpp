// Reads a model directory: DIR/graph.json (format "kiln" v1) and the NPY
// files it names. Checks run in stages, each error naming the file and the
// entry: size and nesting limits, JSON syntax, format and version, each
// entry's fields and types, names and references, paths, NPY headers and
// shapes. Shape inference and op validation are left to the caller, which
// has the op table (ir::infer_shapes, ir::verify).
#include "loaders/model_dir.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/error.h"
#include "loaders/npy.h"
#include "loaders/paths.h"

namespace kiln::loaders {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A JSON value for messages, shortened: got [1.5, 2] / got "x".
std::string show(const json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// Refuses nesting deeper than kMaxJsonDepth before the parser sees the text.
void check_depth(const std::string& text, const std::string& where) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw Error(where, "JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                               " levels at byte " + std::to_string(i));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// nlohmann's DOM builder, refusing an object that repeats a key (JSON allows
// it; nlohmann would keep the last value silently). nlohmann's own
// parser-callback hook does the same but is quadratic on long arrays.
class StrictJsonBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  StrictJsonBuilder(json& result, const std::string& where)
      : json_sax_dom_parser(result), where_(where) {}

  bool start_object(std::size_t size) {
    keys_.emplace_back();
    return json_sax_dom_parser::start_object(size);
  }
  bool key(std::string& key) {
    if (!keys_.back().insert(key).second)
      throw Error(where_, "JSON object repeats the key \"" + key + "\"");
    return json_sax_dom_parser::key(key);
  }
  bool end_object() {
    keys_.pop_back();
    return json_sax_dom_parser::end_object();
  }

 private:
  const std::string& where_;
  std::vector<std::set<std::string>> keys_;  // one set per open object
};

json parse_json(const std::string& text, const std::string& where) {
  json doc;
  StrictJsonBuilder builder(doc, where);
  try {
    json::sax_parse(text, &builder);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string what = e.what();
    size_t colon = what.find("] ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw Error(where, "invalid JSON at byte " + std::to_string(e.byte) + ": " + what);
  } catch (const json::exception& e) {
    // Not a syntax error but still the text's fault, e.g. out_of_range.406
    // "number overflow parsing '1e999'" (found by tests/fuzz/graph_json_fuzz).
    std::string what = e.what();
    size_t colon = what.find("] ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw Error(where, "invalid JSON: " + what);
  }
  return doc;
}

// The canonical path of `rel` (relative to the canonical model directory
// `root`), or an error if it is absolute, uses "..", is missing, is not a
// regular file, or resolves (through symlinks) outside the directory.
fs::path resolve_inside(const fs::path& root, const std::string& rel, const std::string& where) {
  fs::path p(rel);
  if (rel.empty()) throw Error(where, "file: the path is empty");
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory())
    throw Error(where, "file '" + rel + "' must be a path relative to the model directory");
  for (const fs::path& part : p) {
    if (part == "..") throw Error(where, "file '" + rel + "' must not contain '..'");
  }
  return canonical_inside(root, p, "file '" + rel + "'", where);
}

// Builds the graph from the parsed JSON, one top-level field at a time.
class GraphReader {
 public:
  GraphReader(fs::path root, std::string dir, std::string file)
      : root_(std::move(root)), dir_(std::move(dir)), file_(std::move(file)) {}

  ir::Graph read(const json& doc) {
    if (!doc.is_object()) fail("", "expected a JSON object at the top, got " + show(doc));
    check_fields(doc, "", {"format", "version", "producer", "inputs", "outputs", "params", "nodes"});
    const json& format = field(doc, "format", "");
    if (format != "kiln") fail("", "field 'format': expected \"kiln\", got " + show(format));
    const json& version = field(doc, "version", "");
    if (!version.is_number_integer() || version != 1)
      fail("", "field 'version': this Kiln reads version 1, got " + show(version));
    if (doc.contains("producer") && !doc["producer"].is_string())
      fail("", "field 'producer': expected a string, got " + show(doc["producer"]));

    const json& inputs = list_field(doc, "inputs", "");
    const json& params = list_field(doc, "params", "");
    const json& nodes = list_field(doc, "nodes", "");
    const json& outputs = list_field(doc, "outputs", "");
    if (params.size() > kMaxParams)
      fail("", "field 'params': " + std::to_string(params.size()) + " entries, more than the limit of " +
                   std::to_string(kMaxParams));
    if (nodes.size() > kMaxNodes)
      fail("", "field 'nodes': " + std::to_string(nodes.size()) + " entries, more than the limit of " +
                   std::to_string(kMaxNodes));

    for (size_t i = 0; i < inputs.size(); ++i) read_input(inputs[i], i);
    for (size_t i = 0; i < params.size(); ++i) read_param(params[i], i);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].is_object() && nodes[i].contains("name") && nodes[i]["name"].is_string())
        node_index_.emplace(nodes[i]["name"].get<std::string>(), i);
    }
    for (size_t i = 0; i < nodes.size(); ++i) read_node(nodes[i], i);
    read_outputs(outputs);
    return std::move(graph_);
  }

 private:
  [[noreturn]] void fail(const std::string& entry, const std::string& what) const {
    throw Error(entry.empty() ? file_ : file_ + ": " + entry, what);
  }

  const json& field(const json& obj, const char* key, const std::string& entry) const {
    if (!obj.contains(key)) fail(entry, std::string("missing field '") + key + "'");
    return obj[key];
  }

  const json& list_field(const json& obj, const char* key, const std::string& entry) const {
    const json& j = field(obj, key, entry);
    if (!j.is_array()) fail(entry, std::string("field '") + key + "': expected a list, got " + show(j));
    return j;
  }

  std::string string_field(const json& obj, const char* key, const std::string& entry) const {
    const json& j = field(obj, key, entry);
    if (!j.is_string() || j.get<std::string>().empty())
      fail(entry, std::string("field '") + key + "': expected a non-empty string, got " + show(j));
    return j.get<std::string>();
  }

  // Unknown fields are errors, so a typo ("attr" for "attrs") cannot pass silently.
  void check_fields(const json& obj, const std::string& entry,
                    const std::vector<std::string>& known) const {
    for (const auto& item : obj.items()) {
      bool found = false;
      for (const std::string& k : known) found = found || item.key() == k;
      if (!found) fail(entry, "unknown field '" + item.key() + "'");
    }
  }

  void check_dtype(const json& obj, const std::string& entry) const {
    std::string dtype = string_field(obj, "dtype", entry);
    if (dtype != "float32") fail(entry, "dtype '" + dtype + "' is not supported (expected float32)");
  }

  // A list of at most kMaxRank dimensions: integers >= `min_dim`, or "N" (the
  // batch) as dimension 0 when `allow_batch`. The element count must stay
  // within kNpyMaxElements.
  ir::Shape read_shape(const json& obj, const std::string& entry, bool allow_batch,
                       int64_t min_dim) const {
    const json& j = list_field(obj, "shape", entry);
    if (j.size() > kMaxRank)
      fail(entry, "shape has " + std::to_string(j.size()) + " dimensions, more than the limit of " +
                      std::to_string(kMaxRank));
    ir::Shape shape;
    int64_t numel = 1;
    for (size_t d = 0; d < j.size(); ++d) {
      if (allow_batch && d == 0 && j[d] == "N") {
        shape.push_back(ir::kBatch);
        continue;
      }
      if (j[d] == "N") fail(entry, "shape " + show(j) + ": \"N\" (the batch) may only be dimension 0");
      if (!j[d].is_number_integer() || j[d].get<int64_t>() < min_dim ||
          (j[d].is_number_unsigned() && j[d].get<uint64_t>() > uint64_t(kNpyMaxElements)))
        fail(entry, "shape " + show(j) + ": expected integers >= " + std::to_string(min_dim) +
                        (allow_batch ? " (or \"N\" first)" : ""));
      int64_t dim = j[d].get<int64_t>();
      if (dim != 0 && numel > kNpyMaxElements / dim)
        fail(entry, "shape " + show(j) + " has more than " + std::to_string(kNpyMaxElements) +
                        " elements, the limit");
      numel *= dim;
      shape.push_back(dim);
    }
    return shape;
  }

  void define(ir::Value* value, const std::string& entry) {
    if (!values_.emplace(value->name, value).second)
      fail(entry, "the name '" + value->name + "' is already defined");
  }

  // Checks the name is free before the graph allocates anything for it.
  void check_free(const std::string& name, const std::string& entry) const {
    if (values_.count(name)) fail(entry, "the name '" + name + "' is already defined");
  }

  void read_input(const json& j, size_t i) {
    std::string entry = "inputs[" + std::to_string(i) + "]";
    if (!j.is_object()) fail(entry, "expected an object, got " + show(j));
    check_fields(j, entry, {"name", "dtype", "shape"});
    std::string name = string_field(j, "name", entry);
    entry += " '" + name + "'";
    check_dtype(j, entry);
    ir::Shape shape = read_shape(j, entry, /*allow_batch=*/true, /*min_dim=*/1);
    check_free(name, entry);
    define(graph_.add_input(name, shape), entry);
  }

  void read_param(const json& j, size_t i) {
    std::string entry = "params[" + std::to_string(i) + "]";
    if (!j.is_object()) fail(entry, "expected an object, got " + show(j));
    check_fields(j, entry, {"name", "dtype", "shape", "file", "data"});
    std::string name = string_field(j, "name", entry);
    entry += " '" + name + "'";
    check_dtype(j, entry);
    ir::Shape shape = read_shape(j, entry, /*allow_batch=*/false, /*min_dim=*/0);
    check_free(name, entry);
    bool has_file = j.contains("file"), has_data = j.contains("data");
    if (has_file == has_data) fail(entry, "expected exactly one of 'file' and 'data'");
    ir::Tensor tensor = has_file ? read_param_file(j, shape, entry) : read_param_data(j, shape, entry);
    define(graph_.add_param(name, std::move(tensor)), entry);
  }

  ir::Tensor read_param_file(const json& j, const ir::Shape& shape, const std::string& entry) const {
    std::string rel = string_field(j, "file", entry);
    fs::path path = resolve_inside(root_, rel, file_ + ": " + entry);
    std::string shown = (fs::path(dir_) / rel).string();
    ir::Tensor t = read_npy(path.string(), shown);
    if (t.shape != shape)
      fail(entry, "shape " + ir::shape_str(shape) + " disagrees with " + shown + " shape " +
                      ir::shape_str(t.shape));
    return t;
  }

  ir::Tensor read_param_data(const json& j, const ir::Shape& shape, const std::string& entry) const {
    const json& data = list_field(j, "data", entry);
    int64_t numel = ir::shape_numel(shape);
    if (data.size() != static_cast<size_t>(numel))
      fail(entry, "shape " + ir::shape_str(shape) + " needs " + std::to_string(numel) +
                      " values, 'data' has " + std::to_string(data.size()));
    ir::Tensor t(shape);
    for (size_t k = 0; k < data.size(); ++k) {
      if (!data[k].is_number())
        fail(entry, "data[" + std::to_string(k) + "]: expected a number, got " + show(data[k]));
      double v = data[k].get<double>();
      if (std::abs(v) > std::numeric_limits<float>::max())
        fail(entry, "data[" + std::to_string(k) + "]: " + show(data[k]) + " does not fit float32");
      t.data[k] = static_cast<float>(v);
    }
    return t;
  }

  void read_node(const json& j, size_t i) {
    std::string entry = "nodes[" + std::to_string(i) + "]";
    if (!j.is_object()) fail(entry, "expected an object, got " + show(j));
    check_fields(j, entry, {"name", "op", "inputs", "attrs"});
    std::string name = string_field(j, "name", entry);
    entry = "node '" + name + "'";
    std::string op = string_field(j, "op", entry);
    check_free(name, entry);

    std::vector<ir::Value*> inputs;
    for (const json& in : list_field(j, "inputs", entry)) {
      if (!in.is_string()) fail(entry, "field 'inputs': expected names, got " + show(in));
      auto it = values_.find(in.get<std::string>());
      if (it == values_.end()) fail(entry, undefined_input(in.get<std::string>(), name, i));
      inputs.push_back(it->second);
    }

    ir::Attrs attrs;
    if (j.contains("attrs")) {
      const json& a = j["attrs"];
      if (!a.is_object()) fail(entry, "field 'attrs': expected an object, got " + show(a));
      for (const auto& item : a.items()) attrs[item.key()] = to_attr(item.value(), entry, item.key());
    }
    define(graph_.add_node(name, op, std::move(inputs), std::move(attrs))->output, entry);
  }

  // Why input `input` of node `node` (nodes[index]) is not defined yet: a
  // cycle, a node listed out of topological order, or no such value.
  std::string undefined_input(const std::string& input, const std::string& node, size_t index) const {
    auto later = node_index_.find(input);
    if (input == node) return "input '" + input + "' is the node's own output (a cycle)";
    if (later != node_index_.end() && later->second > index)
      return "input '" + input + "' is the output of a later node (nodes[" +
             std::to_string(later->second) + "]): nodes must be in topological order, without cycles";
    return "input '" + input + "' is not defined";
  }

  // Integer -> int64_t, real -> double, list of integers -> vector<int64_t>, string.
  ir::Attr to_attr(const json& v, const std::string& entry, const std::string& key) const {
    auto bad = [&]() {
      fail(entry, "attribute '" + key +
                      "': expected an integer, a real, a list of integers or a string, got " + show(v));
    };
    auto is_int64 = [](const json& x) {
      return x.is_number_integer() &&
             !(x.is_number_unsigned() && x.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()));
    };
    if (v.is_number_integer()) {
      if (!is_int64(v)) bad();
      return v.get<int64_t>();
    }
    if (v.is_number_float()) return v.get<double>();
    if (v.is_string()) return v.get<std::string>();
    if (!v.is_array()) bad();
    std::vector<int64_t> list;
    for (const json& x : v) {
      if (!is_int64(x)) bad();
      list.push_back(x.get<int64_t>());
    }
    return list;
  }

  void read_outputs(const json& outputs) {
    if (outputs.empty()) fail("", "field 'outputs': the graph has no outputs");
    std::vector<ir::Value*> values;
    std::set<std::string> seen;
    for (const json& out : outputs) {
      if (!out.is_string()) fail("", "field 'outputs': expected names, got " + show(out));
      std::string name = out.get<std::string>();
      auto it = values_.find(name);
      if (it == values_.end()) fail("", "output '" + name + "' is not defined");
      if (!seen.insert(name).second) fail("", "output '" + name + "' is listed twice");
      values.push_back(it->second);
    }
    graph_.set_outputs(values);
  }

  fs::path root_;     // the canonical model directory
  std::string dir_;   // the directory as the caller named it, for messages
  std::string file_;  // DIR/graph.json, for messages
  ir::Graph graph_;
  std::unordered_map<std::string, ir::Value*> values_;  // inputs, params, node outputs
  std::unordered_map<std::string, size_t> node_index_;   // node name -> first index, for messages
};

}  // namespace

static ir::Graph parse_graph_text(const std::string& text, const fs::path& root,
                                  const std::string& dir, const std::string& file) {
  if (text.size() > kMaxGraphJsonBytes)
    throw Error(file, "the file is " + std::to_string(text.size()) +
                          " bytes, more than the limit of " + std::to_string(kMaxGraphJsonBytes));
  check_depth(text, file);
  json doc = parse_json(text, file);
  return GraphReader(root, dir, file).read(doc);
}

// DIR/graph.json's text, within the size limit.
static std::string read_graph_json(const fs::path& root, const std::string& dir, const std::string& file) {
  fs::path path = resolve_inside(root, "graph.json", dir);
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) throw Error(file, "cannot read: " + ec.message());
  if (size > kMaxGraphJsonBytes)
    throw Error(file, "the file is " + std::to_string(size) + " bytes, more than the limit of " +
                          std::to_string(kMaxGraphJsonBytes));
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  in.read(&text[0], static_cast<std::streamsize>(size));
  if (!in) throw Error(file, "read error");
  return text;
}

ir::Graph load_model_dir(const std::string& dir) {
  std::string file = (fs::path(dir) / "graph.json").string();
  fs::path root = model_root(dir);
  return parse_graph_text(read_graph_json(root, dir, file), root, dir, file);
}

bool is_model_dir(const std::string& dir) {
  std::string file = (fs::path(dir) / "graph.json").string();
  try {
    std::string text = read_graph_json(model_root(dir), dir, file);
    check_depth(text, file);
    json doc = parse_json(text, file);
    return doc.is_object() && doc.contains("format") && doc["format"] == "kiln" &&
           doc.contains("version") && doc["version"].is_number_integer();
  } catch (const Error&) {
    return false;
  }
}

ir::Graph parse_graph_json(const std::string& text, const std::string& dir) {
  std::string file = (fs::path(dir) / "graph.json").string();
  return parse_graph_text(text, model_root(dir), dir, file);
}

}  // namespace kiln::loaders
