// Loading a model and running the passes on it.
#include <filesystem>

#include "engine/engine.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "loaders/onnx/onnx.h"
#include "ops/registry.h"

namespace kiln::engine {

ir::Graph load_model(const std::string& name_or_dir, uint64_t seed) {
  ir::Graph graph;
  std::error_code ec;
  if (std::filesystem::is_directory(name_or_dir, ec)) {
    graph = loaders::load_model_dir(name_or_dir);
  } else if (loaders::is_onnx_file(name_or_dir)) {
    graph = loaders::load_onnx(name_or_dir, ops::registry().schemas());
  } else if (loaders::is_builtin(name_or_dir)) {
    graph = loaders::builtin_model(name_or_dir, seed);
  } else {
    std::string names;
    for (const auto& n : loaders::builtin_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error(name_or_dir, "not a model directory, an .onnx file or a built-in model (built-ins: " +
                                 names + ")");
  }
  // The loaders build the graph; its shapes come from the ops' schemas.
  const ir::OpTable& ops = ops::registry().schemas();
  try {
    ir::infer_shapes(graph, ops);
    ir::verify(graph, ops);
  } catch (const Error& e) {
    // Name the model: "DIR: node 'x' (conv2d): ..."
    throw Error(name_or_dir, e.what());
  }
  return graph;
}

std::vector<passes::PassReport> fuse(ir::Graph& graph, FuseLevel level) {
  return passes::run_passes(graph, passes::pipeline(level), ops::registry().schemas());
}

}  // namespace kiln::engine
