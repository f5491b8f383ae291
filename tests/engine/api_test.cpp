// The public API (kiln/kiln.h) as an embedding app uses it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <kiln/kiln.h>

#include "tests/engine/temp_cache.h"
#include "tests/isa.h"

// A fixed input for the built-in ResNet18: [1, 3, 224, 224] in [-1, 1].
static kiln::Tensor resnet18_input() {
  kiln::Tensor x{{1, 3, 224, 224}, std::vector<float>(3 * 224 * 224)};
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = float((i * 7919) % 255) / 127.f - 1.f;
  return x;
}

TEST_CASE("kiln::Model copies fuse independently and agree on the output") {
  kiln::Model unfused = kiln::Model::load("tutorial", 3);
  kiln::Model fused = unfused;
  auto reports = fused.fuse(kiln::Fuse::batchnorm);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].changed.size() == 3);
  CHECK(unfused.op_count("batchnorm") == 3);
  CHECK(fused.op_count("batchnorm") == 0);
  CHECK(unfused.input_shapes() == std::vector<std::vector<int64_t>>{{-1, 1, 1, 1}});

  kiln::Tensor x{{5, 1, 1, 1}, {-2.f, -0.5f, 0.f, 0.7f, 3.f}};
  kiln::Runner a = unfused.compile(5);
  kiln::Runner b = fused.compile(5);
  kiln::Runner b_copy = b;  // shares kernels, own buffers
  auto ya = a.run({x}), yb = b.run({x}), yc = b_copy.run({x});
  REQUIRE(ya[0].shape == std::vector<int64_t>{5, 1, 1, 1});
  CHECK(yb[0].data == yc[0].data);
  for (size_t i = 0; i < ya[0].data.size(); ++i)
    CHECK(yb[0].data[i] == doctest::Approx(ya[0].data[i]).epsilon(1e-5));
}

TEST_CASE("kiln::Runner rejects an input of the wrong shape with kiln::Error") {
  kiln::Runner r = kiln::Model::load("tutorial").compile(2);
  kiln::Tensor x{{3, 1, 1, 1}, {1.f, 2.f, 3.f}};
  CHECK_THROWS_WITH_AS(r.run({x}), doctest::Contains("expected shape [2, 1, 1, 1], got [3, 1, 1, 1]"),
                       kiln::Error);
  kiln::Tensor lying{{2, 1, 1, 1}, {1.f}};
  CHECK_THROWS_WITH_AS(r.run({lying}),
                       doctest::Contains("shape [2, 1, 1, 1] needs 2 values, got 1"), kiln::Error);
  std::vector<kiln::Tensor> outputs;
  CHECK_THROWS_AS(r.run({lying}, outputs), kiln::Error);
  CHECK_THROWS_WITH_AS(r.run({}), doctest::Contains("takes 1 input(s), got 0"), kiln::Error);
}

TEST_CASE("kiln::Runner::run into outputs gives run()'s result, and keeps their storage run to run") {
  kiln::Model m = kiln::Model::load("tutorial", 5);
  m.fuse(kiln::Fuse::all);
  kiln::Runner r = std::move(m).compile(4);
  const std::vector<kiln::Tensor> x1 = kiln::random_inputs(r.input_shapes(), 1);
  const std::vector<kiln::Tensor> x2 = kiln::random_inputs(r.input_shapes(), 2);

  // Whatever `outputs` held, it ends with one tensor per output, of its shape.
  std::vector<kiln::Tensor> outputs{{{7}, std::vector<float>(7, 9.f)}, {{1}, {1.f}}};
  r.run(x1, outputs);
  REQUIRE(outputs.size() == r.output_shapes().size());
  CHECK(outputs[0].shape == r.output_shapes()[0]);
  CHECK(outputs[0].data == r.run(x1)[0].data);

  const float* storage = outputs[0].data.data();
  r.run(x2, outputs);
  CHECK(outputs[0].data.data() == storage);  // reused, not reallocated
  const std::vector<kiln::Tensor> y2 = r.run(x2);
  CHECK(outputs[0].data == y2[0].data);
  CHECK(outputs[0].data != r.run(x1)[0].data);  // the second input's result, not the first's
}

TEST_CASE("kiln::Runner::profile gives one row per step, in order, with shares adding up to 100%") {
  kiln::Model m = kiln::Model::load("tutorial");
  m.fuse(kiln::Fuse::batchnorm);
  kiln::Runner r = m.compile(1);
  auto rows = r.profile({{{1, 1, 1, 1}, {0.5f}}}, 3);
  const std::vector<kiln::StepInfo> steps = r.steps();
  REQUIRE(rows.size() >= 3);
  REQUIRE(rows.size() == steps.size());
  double percent = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(rows[i].name == steps[i].name);
    CHECK(rows[i].op == steps[i].op);
    CHECK(rows[i].implementation == steps[i].implementation);
    CHECK(rows[i].min_ms <= rows[i].median_ms);
    percent += rows[i].percent;
  }
  CHECK(percent == doctest::Approx(100.0));
  // The model opens with a conv; a reorder into its layout may come first (AVX2 CPUs).
  auto first_op = std::find_if(rows.begin(), rows.end(),
                               [](const kiln::NodeProfile& p) { return p.op != "reorder"; });
  REQUIRE(first_op != rows.end());
  CHECK(first_op->op == "conv2d");
}

TEST_CASE("kiln::Model::save refuses a folder that is not a Kiln model unless force, and replaces a model whole") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln_api_save_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "notes.txt") << "mine";
  kiln::Model m = kiln::Model::load("tutorial");
  CHECK_THROWS_WITH_AS(m.save(dir.string()), doctest::Contains("not a Kiln model directory (holds notes.txt)"),
                       kiln::Error);
  CHECK(fs::exists(dir / "notes.txt"));
  m.save(dir.string(), /*force=*/true);
  CHECK_FALSE(fs::exists(dir / "notes.txt"));
  m.fuse(kiln::Fuse::batchnorm);
  m.save(dir.string());  // over a model directory: no force needed
  CHECK(kiln::Model::load(dir.string()).op_count("batchnorm") == 0);
  fs::remove_all(dir);
}

TEST_CASE("kiln::CompileOptions::conv_algo: every algorithm gives the direct result") {
  const kiln::test::TempCache cache;  // tune's times stay in this test (tests/engine/temp_cache.h)
  kiln::Model m = kiln::Model::load("resnet18", 5);
  m.fuse(kiln::Fuse::all);
  const kiln::Tensor x = resnet18_input();

  kiln::Runner direct = m.compile(1);
  const std::vector<float> want = direct.run({x})[0].data;
  float max_abs = 0;
  for (float v : want) max_abs = std::max(max_abs, std::fabs(v));
  REQUIRE(max_abs > 0);

  auto uses_winograd = [&](kiln::Runner& r) {
    for (const kiln::NodeProfile& p : r.profile({x}, 1))
      if (p.implementation.find("wino") != std::string::npos) return true;
    return false;
  };
  CHECK_FALSE(uses_winograd(direct));
  // Without AVX2 every algorithm falls back to direct: the results are checked, not the kernels.
  const bool winograd_runs = !kiln::test::skip_without_avx2("Kiln's Winograd kernel");
  for (kiln::ConvAlgo algo : {kiln::ConvAlgo::winograd, kiln::ConvAlgo::kiln_winograd,
                              kiln::ConvAlgo::auto_, kiln::ConvAlgo::tune}) {
    CAPTURE(static_cast<int>(algo));
    kiln::CompileOptions options;
    options.conv_algo = algo;
    kiln::Runner r = m.compile(1, options);
    const std::vector<float> got = r.run({x})[0].data;
    REQUIRE(got.size() == want.size());
    float max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, std::fabs(got[i] - want[i]));
    CHECK(max_diff <= 1e-4f * max_abs);
    // A CPU with AVX2 has one of the two Winograd kernels (oneDNN's or Kiln's);
    // auto and tune may find direct faster.
    const bool per_layer = algo == kiln::ConvAlgo::auto_ || algo == kiln::ConvAlgo::tune;
    if (!per_layer && winograd_runs) CHECK(uses_winograd(r));
  }
}

TEST_CASE("kiln::Model compiled as an rvalue gives the same runner, and is left empty") {
  kiln::Model kept = kiln::Model::load("resnet18", 7);
  kept.fuse(kiln::Fuse::all);
  const kiln::Tensor x = resnet18_input();
  for (kiln::ConvAlgo algo : {kiln::ConvAlgo::direct, kiln::ConvAlgo::winograd,
                              kiln::ConvAlgo::kiln_winograd}) {
    CAPTURE(static_cast<int>(algo));
    kiln::CompileOptions options;
    options.conv_algo = algo;
    kiln::Runner want = kept.compile(1, options);
    // A copy shares the weights with `kept`; one loaded anew owns its own.
    kiln::Model given = kiln::Model::load("resnet18", 7);
    given.fuse(kiln::Fuse::all);
    kiln::Runner got = std::move(given).compile(1, options);
    given = kiln::Model::load("tutorial");  // a model left empty can be assigned to
    CHECK(given.node_count() > 0);
    CHECK(got.run({x})[0].data == want.run({x})[0].data);
  }
}
