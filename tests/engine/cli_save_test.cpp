// engine-run --save over what is already there: a folder that is not a Kiln
// model is refused unless --force, and a model directory is replaced whole.
// (Faults during a save: tests/reliability/catalogue_save_test.cpp.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tests/engine/run_command.h"

namespace fs = std::filesystem;
using kiln::test::dir_entries;
using kiln::test::read_file;
using kiln::test::make_temp_dir;
using kiln::test::run_engine;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A folder of the user's own: a graph.json of another format and notes.
fs::path foreign_folder() {
  fs::path dir = make_temp_dir("kiln-cli-save") + "/mine";
  fs::create_directories(dir);
  write_text(dir / "graph.json", R"({"format": "onnx", "nodes": []})");
  write_text(dir / "notes.txt", "my notes\n");
  return dir;
}

}  // namespace

TEST_CASE("engine-run --save refuses a folder that is not a Kiln model directory, naming what it holds") {
  fs::path dir = foreign_folder();
  auto r = run_engine("tutorial --save " + dir.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err == "engine-run: " + dir.string() +
                     ": not a Kiln model directory (holds graph.json of another format, notes.txt); "
                     "pass --force to replace it\n");
  CHECK(dir_entries(dir) == std::set<std::string>{"graph.json", "notes.txt"});
  CHECK(read_file(dir / "graph.json") == R"({"format": "onnx", "nodes": []})");
  CHECK(read_file(dir / "notes.txt") == "my notes\n");
  fs::remove_all(dir.parent_path());
}

TEST_CASE("engine-run --save --force replaces a folder that is not a Kiln model directory whole") {
  fs::path dir = foreign_folder();
  auto r = run_engine("tutorial --save " + dir.string() + " --force");
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(dir_entries(dir) == std::set<std::string>{"graph.json", "weights"});
  CHECK(run_engine(dir.string()).exit_code == 0);
  fs::remove_all(dir.parent_path());
}

TEST_CASE("engine-run --save over a model directory replaces it whole: no stale weight files") {
  fs::path parent = make_temp_dir("kiln-cli-save");
  REQUIRE(run_engine("tutorial --save " + (parent / "fresh").string()).exit_code == 0);
  REQUIRE(run_engine("resnet18 --save " + (parent / "m").string()).exit_code == 0);
  write_text(parent / "m" / "input.npy", "left by a user");  // anything in it goes too
  auto r = run_engine("tutorial --save " + (parent / "m").string());
  CHECK(r.exit_code == 0);
  CHECK(dir_entries(parent / "m") == std::set<std::string>{"graph.json", "weights"});
  CHECK(dir_entries(parent / "m" / "weights") == dir_entries(parent / "fresh" / "weights"));
  CHECK(dir_entries(parent) == std::set<std::string>{"fresh", "m"});  // no temporaries beside it
  fs::remove_all(parent);
}

TEST_CASE("engine-run --save creates missing parent folders and fills an empty folder") {
  fs::path parent = make_temp_dir("kiln-cli-save");
  fs::create_directories(parent / "empty");
  CHECK(run_engine("tutorial --save " + (parent / "empty").string()).exit_code == 0);
  CHECK(run_engine("tutorial --save " + (parent / "a" / "b" / "m").string() + "/").exit_code == 0);
  CHECK(dir_entries(parent / "empty") == std::set<std::string>{"graph.json", "weights"});
  CHECK(dir_entries(parent / "a" / "b" / "m") == std::set<std::string>{"graph.json", "weights"});
  CHECK(dir_entries(parent / "a" / "b") == std::set<std::string>{"m"});
  fs::remove_all(parent);
}

TEST_CASE("engine-run --help documents --force, and --force without --save is a usage error") {
  auto help = run_engine("--help");
  CHECK(help.out.find("--force") != std::string::npos);
  auto r = run_engine("tutorial --force");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--force") != std::string::npos);
}
