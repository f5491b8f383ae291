// libFuzzer target: the graph.json loader (loaders::parse_graph_json).
// The body and its contract are in tests/fuzz/targets.h; run with
// tests/fuzz/run_fuzz.sh graph_json SECONDS (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::fuzz::weights_dir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::graph_json_target(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
