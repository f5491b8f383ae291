// A fresh conv tune cache for one test: `tune` writes its times where
// KILN_CACHE_DIR points and `auto` follows them, so a test that tunes keeps
// its times to itself (tests/main.cpp points the whole suite at one folder).
// Under a sanitizer or a busy machine, times taken in one test could
// otherwise turn another test's `auto` away from its rules.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tests/engine/run_command.h"

namespace kiln::test {

// Sets an environment variable (unsets it for nullptr) until destroyed.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }

 private:
  void set(const char* value) {
    if (value) setenv(name_.c_str(), value, 1);
    else unsetenv(name_.c_str());
  }
  std::string name_;
  std::optional<std::string> old_;
};

// KILN_CACHE_DIR pointing at a fresh folder, removed after.
class TempCache {
 public:
  TempCache() : dir_(make_temp_dir("kiln-tune-cache")), env_("KILN_CACHE_DIR", dir_.c_str()) {}
  ~TempCache() { std::filesystem::remove_all(dir_); }
  const std::string& dir() const { return dir_; }
  std::string file() const { return dir_ + "/conv-tune.json"; }
  void write(const std::string& text) const { std::ofstream(file()) << text; }

 private:
  std::string dir_;
  ScopedEnv env_;
};

}  // namespace kiln::test
