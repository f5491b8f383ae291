// save_model_dir over what is already at DIR: which folders count as Kiln
// model directories, the refusal of any other, and a failed save that
// leaves DIR as it was. (Round trips: model_dir_test.cpp.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "ir/error.h"
#include "loaders/builtin.h"
#include "loaders/model_dir.h"
#include "tests/engine/run_command.h"

namespace fs = std::filesystem;
using kiln::test::dir_entries;
using kiln::Error;
using kiln::loaders::is_model_dir;
using kiln::loaders::save_model_dir;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("model_dir_save: a Kiln model directory is one whose graph.json says format kiln, any version") {
  fs::path dir = kiln::test::make_temp_dir("kiln-save");
  CHECK_FALSE(is_model_dir(dir.string()));  // no graph.json
  CHECK_FALSE(is_model_dir((dir / "missing").string()));
  const std::pair<const char*, bool> cases[] = {
      {R"({"format": "kiln", "version": 1})", true},
      {R"({"format": "kiln", "version": 2, "whatever": []})", true},
      {R"({"format": "onnx", "version": 1})", false},
      {R"({"format": "kiln", "version": "1"})", false},
      {R"({"format": "kiln"})", false},
      {R"(["format", "kiln"])", false},
      {R"({"format": "kiln", "version": 1)", false},  // not JSON
  };
  for (const auto& [text, kiln] : cases) {
    CAPTURE(text);
    write_text(dir / "graph.json", text);
    CHECK(is_model_dir(dir.string()) == kiln);
  }
  fs::remove_all(dir);
}

TEST_CASE("model_dir_save: a folder that is not a Kiln model directory is refused, naming up to five entries") {
  fs::path dir = kiln::test::make_temp_dir("kiln-save");
  for (const char* name : {"graph.json", "a.txt", "b.txt", "c.txt", "d.txt", "e.txt"})
    write_text(dir / name, "{}");
  fs::create_directory(dir / "data");
  kiln::ir::Graph g = kiln::loaders::builtin_model("tutorial");
  CHECK_THROWS_WITH_AS(save_model_dir(g, dir.string()),
                       (dir.string() + ": not a Kiln model directory (holds a.txt, b.txt, c.txt, d.txt, "
                                       "data/, and 2 more); pass --force to replace it").c_str(),
                       Error);
  CHECK(dir_entries(dir).size() == 7);
  save_model_dir(g, dir.string(), /*force=*/true);
  CHECK(dir_entries(dir) == std::set<std::string>{"graph.json", "weights"});
  CHECK(is_model_dir(dir.string()));
  fs::remove_all(dir);
}

TEST_CASE("model_dir_save: a save that fails before writing leaves DIR as it was and no temporary") {
  fs::path parent = kiln::test::make_temp_dir("kiln-save");
  fs::path dir = parent / "m";
  save_model_dir(kiln::loaders::builtin_model("tutorial"), dir.string());
  const std::set<std::string> weights = dir_entries(dir / "weights");
  kiln::ir::Graph g;
  kiln::ir::Value* x = g.add_input("x", {kiln::ir::kBatch, 1});
  g.set_outputs({g.add_node("\xff", "relu", {x})->output});  // not UTF-8: JSON cannot hold it
  CHECK_THROWS_WITH_AS(save_model_dir(g, dir.string()), doctest::Contains("cannot write"), Error);
  CHECK(dir_entries(dir / "weights") == weights);
  CHECK(is_model_dir(dir.string()));
  CHECK(dir_entries(parent) == std::set<std::string>{"m"});
  fs::remove_all(parent);
}
