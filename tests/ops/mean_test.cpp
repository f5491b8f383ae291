#include <doctest/doctest.h>

#include <algorithm>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;
using Ints = std::vector<int64_t>;

namespace {

std::vector<size_t> resolved(const Ints& dims, size_t rank) {
  std::vector<size_t> out;
  for (int64_t d : dims) out.push_back(static_cast<size_t>(d < 0 ? d + int64_t(rank) : d));
  return out;
}

}  // namespace

TEST_CASE("mean averages over the given dims, with and without keepdim") {
  struct Case {
    ir::Shape x;
    Ints dims;
  };
  const Case cases[] = {
      {{2, 5, 9, 11}, {2, 3}},  // the classifier head: a pooling
      {{2, 5, 9, 11}, {-1, -2}},
      {{2, 5, 9, 11}, {1}},
      {{2, 5, 9, 11}, {1, 3}},
      {{2, 5, 9, 11}, {3}},
      {{2, 7, 33}, {-1}},  // a transformer's token mean
      {{2, 7, 33}, {1}},
      {{2, 3, 4, 5, 6}, {2, 4}},
      {{2, 5, 1, 1}, {2, 3}},  // only dims of size 1: a copy
  };
  uint64_t seed = 600;
  for (const Case& c : cases) {
    ir::Tensor x = random_tensor(c.x, ++seed);
    for (int64_t keepdim : {0, 1}) {
      CAPTURE(ir::shape_str(c.x));
      CAPTURE(ir::attr_str(c.dims));
      CAPTURE(keepdim);
      ir::Tensor got = run_op("mean", {x}, {}, {{"dims", c.dims}, {"keepdim", keepdim}});
      RefTensor want = ref_mean(to_ref(x), resolved(c.dims, c.x.size()), keepdim == 1);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
    }
  }
}

TEST_CASE("mean reads a conv's layouts as they are") {
  ir::Tensor x = random_tensor({2, 20, 5, 7}, 610);
  for (tag t : {tag::nChw16c, tag::nhwc}) {
    for (const Ints& dims : {Ints{2, 3}, Ints{1}, Ints{3}}) {
      for (int64_t keepdim : {0, 1}) {
        CAPTURE(static_cast<int>(t));
        CAPTURE(ir::attr_str(dims));
        CAPTURE(keepdim);
        LayoutRun run =
            run_op_in_layout("mean", {x}, {}, {{"dims", dims}, {"keepdim", keepdim}}, t);
        CHECK_FALSE(run.input_reordered.at(0));
        RefTensor want = ref_mean(to_ref(x), resolved(dims, 4), keepdim == 1);
        std::string report;
        CHECK_MESSAGE(count_mismatches(run.output, want, 1e-5, report) == 0, report);
      }
    }
  }
}

TEST_CASE("mean over the whole plane after a conv is right without reorders in between") {
  ir::Tensor x = random_tensor({2, 20, 5, 7}, 620);
  std::vector<std::string> steps;
  ir::Tensor got = run_op_after_conv("mean", {x}, {}, {{"dims", Ints{2, 3}}}, &steps);
  // The conv (maybe after a reorder of x), the mean, maybe a reorder of [N, C] to plain.
  auto conv = std::find(steps.begin(), steps.end(), "conv2d");
  REQUIRE(conv != steps.end());
  REQUIRE(conv + 1 != steps.end());
  CHECK(conv[1] == "mean");
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, ref_mean(to_ref(x), {2, 3}, false), 1e-5, report) == 0,
                report);
}

TEST_CASE("mean rejects repeated, out-of-range or no dims, and keepdim other than 0 or 1") {
  auto error = [](const ir::Attrs& attrs) {
    return validate_error("mean", {{2, 5, 9, 11}}, {}, attrs);
  };
  CHECK(error({{"dims", Ints{2, -2}}}) ==
        "node 'node' (mean): attribute 'dims' [2, -2]: dim 2 is repeated");
  CHECK(error({{"dims", Ints{4}}}) ==
        "node 'node' (mean): attribute 'dims': expected a dimension of x (rank 4), got 4");
  CHECK(error({{"dims", Ints{}}}) ==
        "node 'node' (mean): attribute 'dims': expected at least one dim, got []");
  CHECK(error({}) == "node 'node' (mean): attribute 'dims' is required");
  CHECK(error({{"dims", Ints{2, 3}}, {"keepdim", int64_t{2}}}) ==
        "node 'node' (mean): attribute 'keepdim': expected 0 or 1, got 2");
}
