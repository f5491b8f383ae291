// The test binary's main: doctest's, with the conv tune cache
// (engine/conv_tune_cache.h) in a fresh folder of its own, so that no test
// reads or writes the user's cache, and `auto` follows its rules: a test
// that tunes points KILN_CACHE_DIR at a folder of its own
// (tests/engine/temp_cache.h). engine-run started by a test inherits it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/engine/run_command.h"

int main(int argc, char** argv) {
  const std::string cache_dir = kiln::test::make_temp_dir("kiln-test-cache");
  setenv("KILN_CACHE_DIR", cache_dir.c_str(), 1);
  const int status = doctest::Context(argc, argv).run();
  std::filesystem::remove_all(cache_dir);
  return status;
}
