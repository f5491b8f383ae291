// engine-run's command line.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::cli {

// A bad command line: engine-run prints it with a hint and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model;                  // built-in name or model directory
  Fuse fuse = Fuse::none;
  CompileOptions compile;             // --conv-algo, --conv-layout
  std::vector<std::string> inputs;    // --input, one per graph input
  std::vector<std::string> outputs;   // --output, one per graph output
  int64_t batch = 0;                  // 0: from --input, else 1
  int threads = 0;                    // 0: oneDNN's default (all cores)
  int iters = -1;                     // -1: the mode's default
  int warmup = -1;
  uint64_t seed = 0;
  bool compare = false;
  bool dump_graph = false;
  bool json = false;
  bool verbose = false;
  bool help = false;
  bool profile = false;
  bool verify = false;
  std::string save_dir;
  bool force = false;                 // --save may replace a folder that is not a Kiln model
  std::string trace_file;
};

// Throws UsageError on anything it does not understand.
Options parse_options(int argc, char** argv);
std::string usage();

}  // namespace kiln::cli
