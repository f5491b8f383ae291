// Replays the fuzz seed corpora and every saved fuzz finding
// (tests/fuzz/regressions/TARGET/) through the fuzz targets' bodies, so
// each finding stays fixed in the normal and the sanitizer test builds,
// where libFuzzer is not linked. See docs/FUZZING.md.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs every file of corpus/TARGET and regressions/TARGET through `body`;
// returns how many files ran.
size_t replay(const std::string& target, const std::function<void(const std::string&)>& body) {
  const fs::path root = fs::path(KILN_SOURCE_DIR) / "tests" / "fuzz";
  size_t count = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const fs::path& file : files_in(root / kind / target)) {
      CAPTURE(file.string());
      CHECK_NOTHROW(body(read_file(file)));
      ++count;
    }
  }
  return count;
}

}  // namespace

TEST_CASE("fuzz corpus: every NPY seed and finding parses or is refused with kiln::Error") {
  CHECK(replay("npy", kiln::fuzz::npy_target) >= 5);
}

TEST_CASE("fuzz corpus: every graph.json seed and finding loads or is refused with kiln::Error") {
  CHECK(replay("graph_json", kiln::fuzz::graph_json_target) >= 5);
}

TEST_CASE("fuzz corpus: every model seed and finding runs or is refused with kiln::Error") {
  CHECK(replay("model", kiln::fuzz::model_target) >= 5);
}

TEST_CASE("fuzz corpus: the model seeds are real models that load, fold and run") {
  const fs::path dir = fs::path(KILN_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "model";
  const kiln::ir::OpTable& ops = kiln::ops::registry().schemas();
  for (const fs::path& file : files_in(dir)) {
    CAPTURE(file.string());
    kiln::ir::Graph g = kiln::loaders::parse_graph_json(read_file(file), kiln::fuzz::weights_dir());
    kiln::ir::infer_shapes(g, ops);
    kiln::ir::verify(g, ops);
    std::vector<kiln::passes::PassReport> reports = kiln::engine::fuse(g, kiln::engine::FuseLevel::batchnorm);
    // Every batchnorm folds but those fold_batchnorm refuses, each with a
    // reason (the DenseNet seed's follow a concat).
    const kiln::passes::PassReport& fold = reports.at(0);
    CHECK(g.nodes_of_op("batchnorm").size() == fold.skipped.size());
    for (const auto& skip : fold.skipped) CHECK(!skip.reason.empty());
    kiln::fuzz::compile_and_run(g);
  }
}

TEST_CASE("fuzz corpus: every ONNX seed and finding loads or is refused with kiln::Error") {
  CHECK(replay("onnx", kiln::fuzz::onnx_target) >= 5);
}

TEST_CASE("fuzz corpus: the ONNX seeds are real models that load, fold and run, but the unsupported one") {
  const fs::path dir = fs::path(KILN_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "onnx";
  const kiln::ir::OpTable& ops = kiln::ops::registry().schemas();
  for (const fs::path& file : files_in(dir)) {
    CAPTURE(file.string());
    auto load = [&] { return kiln::loaders::parse_onnx(read_file(file), kiln::fuzz::weights_dir(), file.string(), ops); };
    if (file.filename() == "unsupported_ops.onnx") {
      CHECK_THROWS_WITH_AS(load(), doctest::Contains("4 nodes Kiln cannot run"), kiln::Error);
      continue;
    }
    kiln::ir::Graph g = load();
    kiln::ir::verify(g, ops);
    std::vector<kiln::passes::PassReport> reports = kiln::engine::fuse(g, kiln::engine::FuseLevel::batchnorm);
    CHECK(reports.at(0).skipped.empty());
    CHECK(g.count_op("batchnorm") == 0);
    kiln::fuzz::compile_and_run(g);
  }
}
