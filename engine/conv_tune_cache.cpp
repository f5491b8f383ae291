#include "engine/conv_tune_cache.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/engine.h"
#include "loaders/atomic_write.h"
#include "ops/common.h"

namespace kiln::engine {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "kiln conv-tune";
constexpr int kVersion = 1;
constexpr uintmax_t kMaxBytes = 16 << 20;  // a real one holds a few hundred bytes per layer

// A cache that cannot be used is worth one line per process, not one per compile.
void warn_once(const std::string& message) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) std::fprintf(stderr, "kiln: %s\n", message.c_str());
}

json empty_cache() {
  return {{"format", kFormat}, {"version", kVersion}, {"cpus", json::object()}};
}

// Why `j` is not a cache of this format, or "" if it is.
std::string not_a_cache(const json& j) {
  if (!j.is_object()) return "not a JSON object";
  if (!j.contains("format") || j["format"] != kFormat)
    return "no \"format\": \"" + std::string(kFormat) + "\"";
  if (!j.contains("version") || j["version"] != kVersion)
    return "version " + (j.contains("version") ? j["version"].dump() : "missing") + ", expected " +
           std::to_string(kVersion);
  if (!j.contains("cpus") || !j["cpus"].is_object()) return "no \"cpus\" object";
  for (const auto& [cpu, layers] : j["cpus"].items()) {
    if (!layers.is_object()) return "cpu \"" + cpu + "\": not an object";
  }
  return "";
}

// The cache file's JSON: an empty cache where there is no file; nullopt,
// with the warning, where the file cannot be used.
std::optional<json> load(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec) && !ec) return empty_cache();
  const uintmax_t bytes = fs::file_size(path, ec);
  std::string why;
  json j;
  if (ec) {
    why = ec.message();
  } else if (bytes > kMaxBytes) {
    why = std::to_string(bytes) + " bytes, more than a cache of this kind holds";
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) why = std::strerror(errno);
    if (in) j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (in && j.is_discarded()) why = "not valid JSON";
    if (why.empty()) why = not_a_cache(j);
  }
  if (why.empty()) return j;
  warn_once("ignoring the conv tune cache '" + path + "': " + why);
  return std::nullopt;
}

// One layer's entry, {"direct": 0.41, ...}, or nullopt if it is not one.
std::optional<ops::ConvTuning> read_tuning(const json& entry) {
  if (!entry.is_object() || entry.empty()) return std::nullopt;
  ops::ConvTuning tuning;
  for (const auto& [name, ms] : entry.items()) {
    const std::optional<ops::ConvKernel> kernel = ops::conv_kernel_from_name(name);
    if (!kernel || !ms.is_number() || !std::isfinite(ms.get<double>()) || ms.get<double>() < 0)
      return std::nullopt;
    tuning.times.push_back({*kernel, ms.get<double>()});
  }
  // In the order tune lists them: direct, onednn winograd, kiln winograd.
  std::sort(tuning.times.begin(), tuning.times.end(),
            [](const auto& a, const auto& b) { return a.kernel < b.kernel; });
  return tuning;
}

std::string cpu_brand() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned regs[12] = {};
  // GCC's cpuid.h returns unsigned, clang's int: compare as unsigned for both.
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000, nullptr)) >= 0x80000004u) {
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                  &regs[4 * i + 3]);
    std::string brand(reinterpret_cast<const char*>(regs), sizeof regs);
    brand = brand.substr(0, brand.find('\0'));
    const size_t first = brand.find_first_not_of(' '), last = brand.find_last_not_of(' ');
    if (first != std::string::npos) return brand.substr(first, last - first + 1);
  }
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "unknown CPU";
}

}  // namespace

std::string conv_tune_cache_path() {
  const char* kiln_dir = std::getenv("KILN_CACHE_DIR");
  if (kiln_dir && *kiln_dir) return std::string(kiln_dir) + "/conv-tune.json";
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and is ignored.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/kiln/conv-tune.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.cache/kiln/conv-tune.json";
  return "";
}

std::string conv_tune_cpu_key() {
  const dnnl_version_t* v = dnnl_version();
  return cpu_brand() + "; oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) +
         "." + std::to_string(v->patch) + " " + ops::isa_name(dnnl::get_effective_cpu_isa()) +
         "; " + std::to_string(max_threads()) + " threads";
}

ops::ConvTunings read_conv_tunings(const std::string& path, const std::string& cpu) {
  ops::ConvTunings tunings;
  if (path.empty()) return tunings;
  const std::optional<json> j = load(path);
  if (!j || !(*j)["cpus"].contains(cpu)) return tunings;
  for (const auto& [signature, entry] : (*j)["cpus"][cpu].items()) {
    if (std::optional<ops::ConvTuning> tuning = read_tuning(entry)) {
      tunings[signature] = *tuning;
    } else {
      warn_once("conv tune cache '" + path + "': ignoring the entry '" + signature + "': " +
                entry.dump());
    }
  }
  return tunings;
}

void write_conv_tunings(const std::string& path, const std::string& cpu,
                        const ops::ConvTunings& tunings) {
  if (path.empty()) {
    warn_once("no cache folder (KILN_CACHE_DIR, XDG_CACHE_HOME and HOME are unset): the tuned "
              "conv choices are not kept");
    return;
  }
  json j = load(path).value_or(empty_cache());  // a file that cannot be used is replaced
  json& layers = j["cpus"][cpu];
  for (const auto& [signature, tuning] : tunings) {
    json times = json::object();
    for (const ops::ConvTuning::Time& t : tuning.times)
      times[ops::conv_kernel_name(t.kernel)] = t.ms;
    layers[signature] = times;
  }
  try {
    fs::create_directories(fs::path(path).parent_path());
    loaders::replace_file(path, j.dump(1) + "\n");
  } catch (const std::exception& e) {
    warn_once("could not write the conv tune cache: " + std::string(e.what()));
  }
}

}  // namespace kiln::engine
