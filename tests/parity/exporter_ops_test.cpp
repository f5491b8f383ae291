// Every op the PyTorch exporter can write into graph.json must exist in the
// engine. The list is EMITTED_OPS in loaders/torch/torch2kiln/op_table.py (the
// exporter refuses to emit any op not in it), read here with a regex.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "ops/registry.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The quoted names inside `EMITTED_OPS = ( ... )`.
std::vector<std::string> exporter_emitted_ops() {
  const std::string source =
      read_file(std::string(KILN_SOURCE_DIR) + "/loaders/torch/torch2kiln/op_table.py");
  std::smatch tuple;
  const std::regex tuple_re(R"(\nEMITTED_OPS\s*=\s*\(([^)]*)\))");
  REQUIRE_MESSAGE(std::regex_search(source, tuple, tuple_re),
                  "loaders/torch/torch2kiln/op_table.py: no `EMITTED_OPS = (...)` tuple");
  const std::string body = tuple[1].str();
  std::vector<std::string> ops;
  const std::regex name_re(R"re("([a-z0-9_]+)")re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), name_re); it != std::sregex_iterator();
       ++it) {
    ops.push_back((*it)[1].str());
  }
  return ops;
}

}  // namespace

TEST_CASE("every op the PyTorch exporter can emit is registered in the engine") {
  const std::vector<std::string> emitted = exporter_emitted_ops();
  const std::vector<std::string> registered = kiln::ops::registry().names();
  // ResNet's ops at least, so a regex that silently matched nothing cannot pass.
  for (const char* op : {"conv2d", "batchnorm", "relu", "max_pool2d", "add", "global_avg_pool2d",
                         "flatten", "linear"}) {
    CHECK_MESSAGE(std::count(emitted.begin(), emitted.end(), op) == 1,
                  "EMITTED_OPS should list '" << op << "' once");
  }
  for (const std::string& op : emitted) {
    CAPTURE(op);
    CHECK_MESSAGE(std::count(registered.begin(), registered.end(), op) == 1,
                  "the exporter can emit '" << op << "' but kiln::ops::registry() has no such op");
  }
}
