// Runs a shell command for CLI tests and captures what it printed.
#pragma once

#include <set>
#include <string>

namespace kiln::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `args` (already shell-quoted as needed) through /bin/sh.
CommandResult run_command(const std::string& args);

// engine-run's path in the build tree, followed by `args`.
CommandResult run_engine(const std::string& args);

// The last non-empty line of `text`.
std::string last_line(const std::string& text);

// A fresh, empty directory under the system's temporary directory.
std::string make_temp_dir(const std::string& prefix);

// A file's bytes ("" if it cannot be read).
std::string read_file(const std::string& path);

// The names in a directory (not recursive).
std::set<std::string> dir_entries(const std::string& dir);

}  // namespace kiln::test
