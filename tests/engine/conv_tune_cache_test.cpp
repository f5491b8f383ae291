// engine/conv_tune_cache: `tune` stores its times in KILN_CACHE_DIR, `auto`
// follows them on the same CPU only, and a cache that cannot be used fails
// no compile. Each test points KILN_CACHE_DIR at a fresh folder of its own
// (tests/engine/temp_cache.h; tests/main.cpp already keeps the suite away
// from the user's cache).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/conv_tune_cache.h"
#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/engine/run_command.h"
#include "tests/engine/temp_cache.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;
using nlohmann::json;

namespace {

const ir::Attrs kRelu = {{"padding", std::vector<int64_t>{1, 1}},
                         {"activation", std::string("relu")}};

// x -> conv2d "a" (32 -> 32, relu) -> conv2d_add "b" (a, residual x, relu):
// two 3x3 stride-1 layers with Winograd kernels, one of each conv op.
ir::Graph two_convs() {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 32, 12, 12});
  ir::Value* a = g.add_node("a", "conv2d",
                            {x, g.add_param("a.w", random_tensor({32, 32, 3, 3}, 1)),
                             g.add_param("a.b", random_tensor({32}, 2))},
                            kRelu)
                     ->output;
  ir::Value* b = g.add_node("b", "conv2d_add",
                            {a, x, g.add_param("b.w", random_tensor({32, 32, 3, 3}, 3)),
                             g.add_param("b.b", random_tensor({32}, 4))},
                            kRelu)
                     ->output;
  g.set_outputs({b});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  return g;
}

std::vector<engine::StepInfo> conv_steps(const engine::Plan& plan) {
  std::vector<engine::StepInfo> steps;
  for (const engine::StepInfo& step : plan.steps()) {
    if (step.op == "conv2d" || step.op == "conv2d_add") steps.push_back(step);
  }
  return steps;
}

// Whether any conv step's reason says it followed the cache.
bool follows_cache(const engine::Plan& plan) {
  for (const engine::StepInfo& step : conv_steps(plan)) {
    if (step.reason.find("auto: tuned on this CPU") != std::string::npos) return true;
  }
  return false;
}

json read_json(const std::string& path) { return json::parse(read_file(path)); }

}  // namespace

TEST_CASE("tune stores its times in KILN_CACHE_DIR, and auto then runs what tune chose") {
  if (skip_without_avx2("Kiln's Winograd kernel, without which no conv has a choice")) return;
  TempCache cache;
  const ir::Graph g = two_convs();
  const engine::Plan tuned = engine::compile(g, 2, {ops::ConvAlgo::tune});
  CHECK(dir_entries(cache.dir()) == std::set<std::string>{"conv-tune.json"});
  const json j = read_json(cache.file());
  CHECK(j["format"] == "kiln conv-tune");
  REQUIRE(j["cpus"].contains(engine::conv_tune_cpu_key()));
  CHECK(j["cpus"][engine::conv_tune_cpu_key()].size() == 2);  // a and b differ in op and post-ops

  const engine::Plan followed = engine::compile(g, 2, {ops::ConvAlgo::auto_});
  const std::vector<engine::StepInfo> t = conv_steps(tuned), a = conv_steps(followed);
  REQUIRE(t.size() == 2);
  REQUIRE(a.size() == 2);
  for (size_t i = 0; i < t.size(); ++i) {
    INFO(t[i].reason);
    const size_t at = t[i].reason.find(": tune: ");
    REQUIRE(at != std::string::npos);
    // "kiln winograd: tune: direct ..." -> "kiln winograd: auto: tuned on this CPU, direct ..."
    CHECK(a[i].reason == t[i].reason.substr(0, at) + ": auto: tuned on this CPU, " +
                             t[i].reason.substr(at + 8));
    CHECK(a[i].implementation == t[i].implementation);
  }
  const ir::Tensor x = random_tensor({2, 32, 12, 12}, 5);
  engine::Context run_tuned(tuned), run_followed(followed);
  CHECK(run_followed.run({x})[0].data == run_tuned.run({x})[0].data);  // the same kernels
}

TEST_CASE("the cache keeps each CPU's tunings apart, and a write keeps the other entries") {
  TempCache cache;
  ops::ConvTuning fast_kiln, fast_direct;
  fast_kiln.times = {{ops::ConvKernel::direct, 0.5}, {ops::ConvKernel::kiln_winograd, 0.25}};
  fast_direct.times = {{ops::ConvKernel::direct, 0.125},
                       {ops::ConvKernel::onednn_winograd, 0.375},
                       {ops::ConvKernel::kiln_winograd, 0.25}};
  engine::write_conv_tunings(cache.file(), "cpu A", {{"layer 1", fast_kiln}});
  engine::write_conv_tunings(cache.file(), "cpu A", {{"layer 2", fast_direct}});
  engine::write_conv_tunings(cache.file(), "cpu B", {{"layer 1", fast_direct}});

  const ops::ConvTunings a = engine::read_conv_tunings(cache.file(), "cpu A");
  REQUIRE(a.size() == 2);
  CHECK(a.at("layer 1").str() == fast_kiln.str());
  CHECK(a.at("layer 1").fastest() == ops::ConvKernel::kiln_winograd);
  CHECK(a.at("layer 2").str() == fast_direct.str());
  const ops::ConvTunings b = engine::read_conv_tunings(cache.file(), "cpu B");
  REQUIRE(b.size() == 1);
  CHECK(b.at("layer 1").fastest() == ops::ConvKernel::direct);
  CHECK(engine::read_conv_tunings(cache.file(), "cpu C").empty());
  CHECK(engine::read_conv_tunings(cache.dir() + "/missing.json", "cpu A").empty());
}

TEST_CASE("auto does not follow the times stored for another CPU") {
  if (skip_without_avx2("Kiln's Winograd kernel, without which no conv has a choice")) return;
  TempCache cache;
  const ir::Graph g = two_convs();
  engine::compile(g, 1, {ops::ConvAlgo::tune});
  CHECK(follows_cache(engine::compile(g, 1, {ops::ConvAlgo::auto_})));
  // The same entries under another CPU's key (or this one at other threads).
  json j = read_json(cache.file());
  json& cpus = j["cpus"];
  cpus["another CPU; oneDNN 2.6.0 avx2; 2 threads"] = cpus[engine::conv_tune_cpu_key()];
  cpus.erase(engine::conv_tune_cpu_key());
  cache.write(j.dump());
  CHECK_FALSE(follows_cache(engine::compile(g, 1, {ops::ConvAlgo::auto_})));
}

TEST_CASE("a cache that cannot be used fails no compile, auto uses its rules and tune replaces it") {
  TempCache cache;
  const ir::Graph g = two_convs();
  const std::string cpu = engine::conv_tune_cpu_key();
  const std::vector<std::string> broken = {
      "{\"cpus\": {",  // cut short
      "[1, 2, 3]",
      "{\"format\": \"something else\", \"version\": 1, \"cpus\": {}}",
      "{\"format\": \"kiln conv-tune\", \"version\": 99, \"cpus\": {}}",
      "{\"format\": \"kiln conv-tune\", \"version\": 1, \"cpus\": {\"" + cpu + "\": 7}}",
      // Entries of this CPU that are not times, or not of known kernels: skipped.
      "{\"format\": \"kiln conv-tune\", \"version\": 1, \"cpus\": {\"" + cpu +
          "\": {\"a layer\": {\"direct\": \"fast\"}, \"b\": {\"fft\": 0.1}, \"c\": {}}}}",
      std::string("\0\xff\xfe", 3),
  };
  for (const std::string& text : broken) {
    CAPTURE(text);
    cache.write(text);
    engine::Plan plan = engine::compile(g, 1, {ops::ConvAlgo::auto_});
    CHECK_FALSE(follows_cache(plan));
    CHECK(engine::read_conv_tunings(cache.file(), cpu).empty());
    engine::compile(g, 1, {ops::ConvAlgo::tune});
    if (!has_avx2()) continue;  // no conv had a choice: nothing was stored
    CHECK(engine::read_conv_tunings(cache.file(), cpu).size() == 2);
    CHECK(follows_cache(engine::compile(g, 1, {ops::ConvAlgo::auto_})));
  }

  // A folder where the file should be: nothing can be read or written.
  std::filesystem::remove(cache.file());
  std::filesystem::create_directory(cache.file());
  CHECK_FALSE(follows_cache(engine::compile(g, 1, {ops::ConvAlgo::tune})));
  CHECK_FALSE(follows_cache(engine::compile(g, 1, {ops::ConvAlgo::auto_})));
  CHECK(std::filesystem::is_directory(cache.file()));
}

TEST_CASE("engine-run warns once about a cache it cannot use, runs, and tune rewrites it") {
  const std::string dir = make_temp_dir("kiln-tune-cli");
  std::ofstream(dir + "/conv-tune.json") << "not json";
  const std::string env = "KILN_CACHE_DIR='" + dir + "' ";
  // --compare compiles three times: one warning all the same.
  CommandResult r = run_command(env + KILN_ENGINE_RUN +
                                " resnet18 --compare --iters 1 --warmup 0 --conv-algo auto");
  CHECK(r.exit_code == 0);
  const std::string warning = "kiln: ignoring the conv tune cache '" + dir + "/conv-tune.json': ";
  CHECK(r.err.find(warning) != std::string::npos);
  CHECK(r.err.find(warning) == r.err.rfind(warning));
  CHECK(read_file(dir + "/conv-tune.json") == "not json");  // auto only reads

  r = run_command(env + KILN_ENGINE_RUN + " resnet18 --fuse=all --conv-algo tune -v");
  CHECK(r.exit_code == 0);
  if (has_avx2()) {
    CHECK(r.out.find("  conv     layer1.0.conv1: ") != std::string::npos);
    CHECK(r.out.find(": tune: direct ") != std::string::npos);
    CHECK(json::parse(read_file(dir + "/conv-tune.json"))["format"] == "kiln conv-tune");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("the cache is in KILN_CACHE_DIR, else XDG_CACHE_HOME/kiln, else HOME/.cache/kiln") {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv kiln_dir("KILN_CACHE_DIR", "/var/cache/k");
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(engine::conv_tune_cache_path() == "/var/cache/k/conv-tune.json");
  }
  ScopedEnv kiln_dir("KILN_CACHE_DIR", nullptr);
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(engine::conv_tune_cache_path() == "/xdg/kiln/conv-tune.json");
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "relative");  // the XDG spec: ignored
    CHECK(engine::conv_tune_cache_path() == "/home/someone/.cache/kiln/conv-tune.json");
  }
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  CHECK(engine::conv_tune_cache_path() == "/home/someone/.cache/kiln/conv-tune.json");
  ScopedEnv no_home("HOME", nullptr);
  CHECK(engine::conv_tune_cache_path().empty());
}
