// engine-run as a user meets it: exit codes, one-line errors, --json, --save.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <kiln/kiln.h>
#include <nlohmann/json.hpp>

#include "ir/verify.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"
#include "ops/registry.h"
#include "tests/engine/run_command.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using kiln::test::last_line;
using kiln::test::make_temp_dir;
using kiln::test::run_engine;

static bool one_line(const std::string& s) {
  return !s.empty() && s.find('\n') == s.size() - 1;
}

TEST_CASE("engine-run --help prints usage and exits 0") {
  auto r = run_engine("--help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("usage: engine-run MODEL") != std::string::npos);
  CHECK(r.out.find("--compare") != std::string::npos);
}

TEST_CASE("engine-run exits 2 with one line on a bad command line") {
  for (const char* args : {"", "tutorial --bogus", "tutorial --batch 0", "tutorial --threads x",
                           "tutorial --fuse=maybe", "tutorial extra", "tutorial --input",
                           "tutorial --conv-algo fft"}) {
    CAPTURE(args);
    auto r = run_engine(args);
    CHECK(r.exit_code == 2);
    CHECK(one_line(r.err));
    CHECK(r.err.rfind("engine-run: ", 0) == 0);
  }
}

TEST_CASE("engine-run exits 1 with one line on an unknown model") {
  auto r = run_engine("no-such-model");
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("not a model directory, an .onnx file or a built-in model") != std::string::npos);
}

TEST_CASE("engine-run exits 1 naming the file when --input does not fit the model") {
  std::string dir = make_temp_dir("kiln-cli");
  kiln::loaders::write_npy(dir + "/x.npy", kiln::ir::Tensor({2, 3, 1, 1}));
  auto r = run_engine("tutorial --input " + dir + "/x.npy");
  CHECK(r.exit_code == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find(dir + "/x.npy") != std::string::npos);
  CHECK(r.err.find("does not fit model input 'x' [N, 1, 1, 1]") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("engine-run tutorial --compare --json folds 3 batchnorms to 0") {
  auto r = run_engine("tutorial --compare --json --iters 3 --warmup 1");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(last_line(r.out));
  CHECK(j["batchnorm_before"] == 3);
  CHECK(j["batchnorm_after"] == 0);
  CHECK(j["nodes_before"] == 6);
  CHECK(j["nodes_after"] == 3);
  CHECK(j["max_abs_diff"].get<double>() <= 1e-5 * std::max(1.0, j["max_abs_output"].get<double>()));
  for (const char* key : {"unfused_ms", "fused_ms", "batch", "threads"}) CHECK(j.contains(key));
}

TEST_CASE("engine-run --threads N is the thread count oneDNN runs its kernels with") {
  // oneDNN's verbose mode names the thread count its runtime sees ("nthr:N")
  // when it creates the first primitive; 3 is above this machine's default.
  for (int n : {1, 3}) {
    CAPTURE(n);
    auto r = kiln::test::run_command("ONEDNN_VERBOSE=1 " KILN_ENGINE_RUN " tutorial --json --threads " +
                                     std::to_string(n));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("runtime:OpenMP,nthr:" + std::to_string(n) + "\n") != std::string::npos);
    CHECK(nlohmann::json::parse(last_line(r.out))["threads"] == n);
  }
}

TEST_CASE("engine-run resnet18 --compare shows three levels, all of them fusing to 24 nodes") {
  auto r = run_engine("resnet18 --compare --json --iters 1 --warmup 0 --conv-algo auto");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("fused (all)") != std::string::npos);
  auto j = nlohmann::json::parse(last_line(r.out));
  CHECK(j["nodes_before"] == 69);
  CHECK(j["nodes_after"] == 49);
  CHECK(j["nodes_after_all"] == 24);
  CHECK(j["batchnorm_after_all"] == 0);
  CHECK(j["conv_algo"] == "auto");
  CHECK(j["max_abs_diff_all"].get<double>() <= 1e-4 * j["max_abs_output"].get<double>());
  for (const char* key : {"fused_all_ms", "fused_all_min_ms", "speedup_all"}) CHECK(j.contains(key));
}

TEST_CASE("engine-run --save writes a model that loads back to the same output bit for bit") {
  std::string dir = make_temp_dir("kiln-cli");
  REQUIRE(run_engine("tutorial --batch 5 --output " + dir + "/y0.npy --fuse --save " + dir + "/m")
              .exit_code == 0);
  auto r = run_engine(dir + "/m --batch 5 --output " + dir + "/y1.npy");
  REQUIRE(r.exit_code == 0);
  auto y0 = kiln::loaders::read_npy(dir + "/y0.npy");
  auto y1 = kiln::loaders::read_npy(dir + "/y1.npy");
  CHECK(y0.shape == y1.shape);
  CHECK(y0.data == y1.data);
  std::filesystem::remove_all(dir);
}

TEST_CASE("engine-run --trace writes valid Chrome trace JSON with one event per step") {
  std::string dir = make_temp_dir("kiln-cli");
  auto r = run_engine("resnet18 --fuse --trace " + dir + "/t.json");
  REQUIRE(r.exit_code == 0);
  std::ifstream f(dir + "/t.json");
  nlohmann::json trace = nlohmann::json::parse(f);  // throws, failing the test, if not JSON
  REQUIRE(trace["traceEvents"].is_array());
  // The same plan through the API: 49 nodes after the fold, plus the reorders this CPU needs.
  kiln::Model model = kiln::Model::load("resnet18");
  model.fuse(kiln::Fuse::batchnorm);
  const std::vector<kiln::StepInfo> steps = model.compile(1).steps();
  REQUIRE(trace["traceEvents"].size() == steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& e = trace["traceEvents"][i];
    CAPTURE(i);
    CHECK(e["ph"] == "X");
    CHECK(e["dur"].get<double>() >= 0);
    CHECK(e["name"] == steps[i].name);
    CHECK(e["cat"] == steps[i].op);
    // A conv's algorithm and why; no reason on other steps.
    if (steps[i].op == "conv2d") CHECK(e["args"]["reason"] == steps[i].reason);
    if (steps[i].reason.empty()) CHECK_FALSE(e["args"].contains("reason"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("engine-run --profile prints one row per step and a total") {
  auto r = run_engine("tutorial --fuse --profile --iters 2");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("implementation") != std::string::npos);
  CHECK(r.out.find("conv1 ") != std::string::npos);
  CHECK(r.out.find("total") != std::string::npos);
}

// The line of `out` that starts with `start`, or "".
static std::string line_starting(const std::string& out, const std::string& start) {
  size_t at = out.find("\n" + start);
  if (at == std::string::npos) return "";
  size_t end = out.find('\n', at + 1);
  return out.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

static bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST_CASE("engine-run --profile ends each conv row with its algorithm and why") {
  auto r = run_engine("resnet18 --fuse=all --conv-algo kiln-winograd --profile --iters 1");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("why (convs)") != std::string::npos);
  CHECK(ends_with(line_starting(r.out, "conv1 "), "  direct: 7x7 kernel"));
  CHECK(ends_with(line_starting(r.out, "layer2.0.downsample.0 "), "  direct: 1x1 kernel"));
  CHECK(ends_with(line_starting(r.out, "layer2.0.conv1 "), "  direct: stride 2"));
  // Kiln's Winograd needs AVX2 (tests/isa.h); without it the reason says so.
  const std::string wino = line_starting(r.out, "layer1.0.conv1 ");
  CHECK((ends_with(wino, "  kiln winograd: 3x3 stride 1") ||
         ends_with(wino, "  direct: Kiln's Winograd needs AVX2 and FMA")));
  const std::string fc = line_starting(r.out, "fc ");  // not a conv: no reason
  REQUIRE_FALSE(fc.empty());
  CHECK(fc.find("direct") == std::string::npos);
  CHECK(fc.find("winograd") == std::string::npos);
}

TEST_CASE("engine-run --profile prints long node names whole, in aligned columns") {
  // Two names that agree in their first 32 characters, as DenseNet's do.
  const std::string first = "features.denseblock2.denselayer1.relu";
  const std::string second = "features.denseblock2.denselayer16.relu";
  std::string dir = make_temp_dir("kiln-cli");
  kiln::ir::Graph g;
  kiln::ir::Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 3, 3});
  kiln::ir::Value* a = g.add_node(first, "relu", {x})->output;
  g.set_outputs({g.add_node(second, "sigmoid", {a})->output});
  kiln::ir::infer_shapes(g, kiln::ops::registry().schemas());
  kiln::loaders::save_model_dir(g, dir + "/long_names");
  auto r = run_engine(dir + "/long_names --profile --iters 1");
  REQUIRE(r.exit_code == 0);
  const std::string row1 = line_starting(r.out, first + " ");
  const std::string row2 = line_starting(r.out, second + " ");
  REQUIRE_FALSE(row1.empty());
  REQUIRE_FALSE(row2.empty());
  // The op column starts at the same place in every row, the header's too.
  const std::string header = line_starting(r.out, "node ");
  CHECK(row1.find("relu", first.size()) == header.find(" op ") + 1);
  CHECK(row2.find("sigmoid", second.size()) == header.find(" op ") + 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("engine-run -v lists each conv's algorithm and why, one line per conv step") {
  auto r = run_engine("resnet18 --fuse=all --conv-algo auto -v");
  REQUIRE(r.exit_code == 0);
  CHECK(line_starting(r.out, "  conv     conv1: ") == "  conv     conv1: direct: 7x7 kernel");
  kiln::Model model = kiln::Model::load("resnet18");
  model.fuse(kiln::Fuse::all);
  kiln::CompileOptions options;
  options.conv_algo = kiln::ConvAlgo::auto_;
  size_t convs = 0;
  for (const kiln::StepInfo& step : model.compile(1, options).steps()) {
    if (step.op != "conv2d" && step.op != "conv2d_add") continue;
    ++convs;
    CAPTURE(step.name);
    CHECK(line_starting(r.out, "  conv     " + step.name + ": ") ==
          "  conv     " + step.name + ": " + step.reason);
  }
  CHECK(convs == 20);
  size_t lines = 0;
  for (size_t at = r.out.find("\n  conv     "); at != std::string::npos;
       at = r.out.find("\n  conv     ", at + 1))
    ++lines;
  CHECK(lines == convs);
}

TEST_CASE("engine-run -v and --json say whether the convs asked for the blocked layout") {
  // ResNet-18 at batch 1: auto leaves the layout to oneDNN.
  auto r = run_engine("resnet18 --fuse=all -v --json");
  REQUIRE(r.exit_code == 0);
  CHECK(line_starting(r.out, "layout ") ==
        "layout     convs take the layout oneDNN picks (--conv-layout auto)");
  CHECK(nlohmann::json::parse(last_line(r.out))["blocked_convs"] == false);
  // Asked for: blocked wherever the CPU has a blocked layout (AVX2 or AVX-512).
  r = run_engine("tutorial --conv-layout blocked -v --json");
  REQUIRE(r.exit_code == 0);
  const bool blocked = kiln::test::has_avx2();
  CHECK(line_starting(r.out, "layout ") ==
        std::string("layout     convs ") +
            (blocked ? "ask for oneDNN's blocked layout (nChw16c / nChw8c)"
                     : "take the layout oneDNN picks") +
            " (--conv-layout blocked)");
  CHECK(nlohmann::json::parse(last_line(r.out))["blocked_convs"] == blocked);
  // A bad name is a usage error.
  r = run_engine("tutorial --conv-layout nChw16c");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--conv-layout: expected auto, any or blocked, got 'nChw16c'") !=
        std::string::npos);
}

TEST_CASE("engine-run --verify passes on resnet18 at every fusion level") {
  for (const char* level : {"bn", "all"}) {
    CAPTURE(level);
    auto r = run_engine(std::string("resnet18 --verify --json --fuse=") + level);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(last_line(r.out));
    CHECK(j["ok"] == true);
    CHECK(j["nodes_compared"].get<int>() > 20);
    CHECK(j["max_rel_error"].get<double>() < 1e-4);
  }
}

// DenseNet's shape: a BN after a concat, feeding a relu. Its statistics are
// random (a 0/1/1/0 BN would hide a wrong fold).
static std::string save_bn_after_concat(const std::string& dir) {
  using kiln::test::random_tensor;
  kiln::ir::Graph g;
  kiln::ir::Value* x = g.add_input("x", {kiln::ir::kBatch, 4, 5, 5});
  auto conv = [&](const std::string& name, uint64_t seed) {
    return g.add_node(name, "conv2d",
                      {x, g.add_param(name + ".weight", random_tensor({4, 4, 1, 1}, seed))})
        ->output;
  };
  kiln::ir::Value* cat =
      g.add_node("cat", "concat", {conv("a", 1), conv("b", 2)}, {{"axis", int64_t{1}}})->output;
  kiln::ir::Value* bn =
      g.add_node("bn", "batchnorm",
                 {cat, g.add_param("bn.running_mean", random_tensor({8}, 3, -0.5, 0.5)),
                  g.add_param("bn.running_var", random_tensor({8}, 4, 0.5, 2.0)),
                  g.add_param("bn.weight", random_tensor({8}, 5, 0.5, 1.5)),
                  g.add_param("bn.bias", random_tensor({8}, 6, -0.5, 0.5))})
          ->output;
  g.set_outputs({g.add_node("relu", "relu", {bn})->output});
  kiln::ir::infer_shapes(g, kiln::ops::registry().schemas());
  std::string model = dir + "/bn_after_concat";
  kiln::loaders::save_model_dir(g, model);
  return model;
}

TEST_CASE("engine-run -v and --json say why a BN after a concat does not fold, and what joins it") {
  std::string dir = make_temp_dir("kiln-cli");
  std::string model = save_bn_after_concat(dir);
  const std::string why = "bn: input 'cat' is produced by concat, not conv2d or linear";
  for (const char* mode : {"", " --verify", " --compare --iters 1 --warmup 0"}) {
    CAPTURE(mode);
    auto r = run_engine(model + " --fuse=all -v --json" + mode);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("  skipped  " + why + "\n") != std::string::npos);
    auto j = nlohmann::json::parse(last_line(r.out));
    auto passes = j.contains("passes_all") ? j["passes_all"] : j["passes"];
    REQUIRE(passes.size() == 7);
    CHECK(passes[0]["pass"] == "fold_batchnorm");
    CHECK(passes[0]["changed"].empty());
    CHECK(passes[0]["skipped"] == nlohmann::json::array({why}));
    CHECK(passes[2]["pass"] == "fuse_concat_batchnorm");
    CHECK(passes[2]["changed"] == nlohmann::json::array(
                                      {"concat 'cat' and batchnorm 'bn' into concat_batchnorm"}));
    CHECK(passes[4]["pass"] == "fuse_conv_activation");
    CHECK(passes[4]["changed"] == nlohmann::json::array({"relu (relu) into bn"}));
  }
  std::filesystem::remove_all(dir);
}
