// Writes a model directory that load_model_dir() reads back to the same graph:
// graph.json with one line per input, parameter and node (in graph order),
// and every parameter as weights/<sanitised name>.npy (never inline, so
// every graph is written the same way, whatever its size). The directory is
// built beside DIR and replaces it whole (loaders/atomic_write.h); a folder
// that is not a Kiln model directory is only replaced when forced.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/error.h"
#include "loaders/atomic_write.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"

namespace kiln::loaders {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keeps fields in the order written

namespace {

// Long names are cut so the file name stays under the usual 255-byte limit.
constexpr size_t kMaxStemBytes = 200;

json shape_json(const ir::Shape& shape, const std::string& where) {
  json j = json::array();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == ir::kBatch && d == 0) {
      j.push_back("N");
    } else if (shape[d] < 0) {
      throw Error(where, "shape " + ir::shape_str(shape) +
                             ": only dimension 0 may be the batch, and no dimension negative");
    } else {
      j.push_back(shape[d]);
    }
  }
  return j;
}

json attr_json(const ir::Attr& attr) {
  if (auto i = std::get_if<int64_t>(&attr)) return *i;
  if (auto d = std::get_if<double>(&attr)) return *d;  // printed shortest round-trip, always with '.' or 'e'
  if (auto s = std::get_if<std::string>(&attr)) return *s;
  return std::get<std::vector<int64_t>>(attr);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Refuses to replace a folder of the user's: one that is neither missing,
// empty, nor a Kiln model directory. The error names what it holds.
void refuse_foreign(const std::string& dir) {
  constexpr size_t kNamesShown = 5;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || is_model_dir(dir)) return;
  std::vector<std::string> names;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (it->is_directory(type_ec)) name += "/";
    else if (name == "graph.json") name += " of another format";
    names.push_back(name);
  }
  if (ec) throw Error(dir, "cannot list it to check it is a Kiln model directory: " + ec.message());
  if (names.empty()) return;
  std::sort(names.begin(), names.end());
  std::string holds;
  for (size_t i = 0; i < names.size() && i < kNamesShown; ++i) holds += (i ? ", " : "") + names[i];
  if (names.size() > kNamesShown) holds += ", and " + std::to_string(names.size() - kNamesShown) + " more";
  throw Error(dir, "not a Kiln model directory (holds " + holds + "); pass --force to replace it");
}

}  // namespace

std::string param_file_stem(const std::string& name) {
  std::string stem;
  for (char c : name.substr(0, kMaxStemBytes)) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    stem += ok ? c : '_';
  }
  return stem;
}

void save_model_dir(const ir::Graph& graph, const std::string& dir, bool force) {
  if (!force) refuse_foreign(dir);
  std::string file = (fs::path(dir) / "graph.json").string();

  std::vector<std::string> lines;  // one compact JSON object per entry
  auto add_line = [&](const json& j) {
    try {
      lines.push_back(j.dump());
    } catch (const json::exception& e) {  // e.g. a name that is not valid UTF-8
      throw Error(file, std::string("cannot write: ") + e.what());
    }
  };

  std::string inputs_text, params_text, nodes_text, outputs_text;
  auto join = [&](std::string& out) {
    for (size_t i = 0; i < lines.size(); ++i)
      out += "    " + lines[i] + (i + 1 < lines.size() ? ",\n" : "\n");
    lines.clear();
  };

  for (const ir::Value* in : graph.inputs()) {
    add_line(json{{"name", in->name}, {"dtype", ir::dtype_name(in->dtype)},
                  {"shape", shape_json(in->shape, "input '" + in->name + "'")}});
  }
  join(inputs_text);

  // Case-insensitive dedupe, so the files stay distinct on macOS and Windows too.
  std::set<std::string> taken;
  std::vector<std::pair<std::string, const ir::Tensor*>> weight_files;  // relative path, data
  for (const ir::Value* p : graph.params()) {
    std::string stem = param_file_stem(p->name);
    std::string name = stem;
    for (int k = 1; !taken.insert(lower(name)).second; ++k) name = stem + "_" + std::to_string(k);
    std::string rel = "weights/" + name + ".npy";
    weight_files.emplace_back(rel, p->data.get());
    add_line(json{{"name", p->name}, {"dtype", ir::dtype_name(p->data->dtype)},
                  {"shape", shape_json(p->data->shape, "parameter '" + p->name + "'")},
                  {"file", rel}});
  }
  join(params_text);

  for (const auto& node : graph.nodes()) {
    json inputs = json::array();
    for (const ir::Value* v : node->inputs) inputs.push_back(v->name);
    json j{{"name", node->name}, {"op", node->op}, {"inputs", inputs}};
    if (!node->attrs.empty()) {
      json attrs = json::object();
      for (const auto& [key, value] : node->attrs) attrs[key] = attr_json(value);
      j["attrs"] = attrs;
    }
    add_line(j);
  }
  join(nodes_text);

  json outputs = json::array();
  for (const ir::Value* v : graph.outputs()) outputs.push_back(v->name);
  add_line(outputs);
  outputs_text = lines.back();
  lines.clear();

  const std::string graph_text = "{\n"
      "  \"format\": \"kiln\",\n"
      "  \"version\": 1,\n"
      "  \"producer\": \"kiln save_model_dir\",\n"
      "  \"inputs\": [\n" + inputs_text + "  ],\n"
      "  \"outputs\": " + outputs_text + ",\n"
      "  \"params\": [\n" + params_text + "  ],\n"
      "  \"nodes\": [\n" + nodes_text + "  ]\n"
      "}\n";

  // Everything above can fail without touching the disk; from here the new
  // directory is built beside DIR and replaces it only once complete.
  replace_dir(dir, [&](const std::string& tmp) {
    fs::path weights = fs::path(tmp) / "weights";
    if (mkdir(weights.c_str(), 0777) != 0)
      throw Error(weights.string(), std::string("cannot create: ") + std::strerror(errno));
    for (const auto& [rel, data] : weight_files)
      write_new_file((fs::path(tmp) / rel).string(), format_npy(*data));
    write_new_file((fs::path(tmp) / "graph.json").string(), graph_text);
  });
}

}  // namespace kiln::loaders
