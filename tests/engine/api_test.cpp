// The public API (kiln/kiln.h) as an embedding app uses it.
#include <doctest/doctest.h>

#include <kiln/kiln.h>

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
  CHECK_THROWS_AS(r.run({lying}), kiln::Error);
}

TEST_CASE("kiln::Runner::profile gives one row per step with a non-negative time") {
  kiln::Model m = kiln::Model::load("tutorial");
  m.fuse(kiln::Fuse::batchnorm);
  kiln::Runner r = m.compile(1);
  auto rows = r.profile({{{1, 1, 1, 1}, {0.5f}}}, 3);
  REQUIRE(rows.size() >= 3);
  for (const auto& p : rows) CHECK(p.median_ms >= 0);
  CHECK(rows[0].op == "conv2d");
}
