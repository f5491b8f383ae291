// libFuzzer target: the NPY reader (loaders::parse_npy) on arbitrary bytes.
// The body and its contract are in tests/fuzz/targets.h; run with
// tests/fuzz/run_fuzz.sh npy SECONDS (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::npy_target(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
