#include "tests/engine/run_command.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace kiln::test {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string make_temp_dir(const std::string& prefix) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::set<std::string> dir_entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

CommandResult run_command(const std::string& args) {
  std::string dir = make_temp_dir("kiln-cmd");
  std::string out = dir + "/out", err = dir + "/err";
  int status = std::system((args + " >" + out + " 2>" + err + " </dev/null").c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  std::filesystem::remove_all(dir);
  return r;
}

CommandResult run_engine(const std::string& args) {
  return run_command(std::string(KILN_ENGINE_RUN) + " " + args);
}

std::string last_line(const std::string& text) {
  std::string line, last;
  std::istringstream s(text);
  while (std::getline(s, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace kiln::test
