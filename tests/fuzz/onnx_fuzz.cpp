// libFuzzer target: an .onnx file: parse_onnx (shapes inferred as it
// converts), verify, fold_batchnorm and the post-op fusions (verify after
// each), compile and run.
// The body and its contract are in tests/fuzz/targets.h; run with
// tests/fuzz/run_fuzz.sh onnx SECONDS (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::fuzz::weights_dir();
  kiln::engine::set_threads(1);  // one OpenMP thread: faster, and reproducible
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::onnx_target(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
