#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("flatten merges the dimensions from start_dim on, keeping C order") {
  ir::Tensor x = random_tensor({2, 3, 9, 11}, 31);
  for (int64_t start : {1, 2, 3, -1, -3}) {
    CAPTURE(start);
    ir::Tensor got = run_op("flatten", {x}, {}, {{"start_dim", start}});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_flatten(to_ref(x), start), 0.0, report) == 0,
                  report);
  }
  ir::Tensor got = run_op("flatten", {x}, {});
  CHECK(got.shape == ir::Shape{2, 297});
}

TEST_CASE("flatten rejects a start_dim outside x and start_dim 0 with a symbolic batch") {
  CHECK(validate_error("flatten", {{2, 3, 9, 11}}, {}, {{"start_dim", int64_t{4}}}) ==
        "node 'node' (flatten): attribute 'start_dim': expected a dimension of x (rank 4), got 4");
  CHECK(validate_error("flatten", {{2, 3, 9, 11}}, {}, {{"start_dim", int64_t{-5}}}) ==
        "node 'node' (flatten): attribute 'start_dim': expected a dimension of x (rank 4), got -5");
  CHECK(validate_error("flatten", {{2, 3, 9, 11}}, {}, {{"start_dim", int64_t{0}}}) ==
        "node 'node' (flatten): attribute 'start_dim': 0 would merge the symbolic batch of x "
        "'x0' [N, 3, 9, 11] into the other dimensions");
}

TEST_CASE("flatten of a plain x that dies at the node copies nothing; of a blocked x, one reorder") {
  ir::Tensor x = random_tensor({2, 20, 3, 5}, 32);
  LayoutRun plain = run_op_in_layout("flatten", {x}, {}, {}, dnnl::memory::format_tag::nchw, true);
  CHECK(plain.in_place);
  LayoutRun blocked =
      run_op_in_layout("flatten", {x}, {}, {}, dnnl::memory::format_tag::nChw16c, true);
  CHECK_FALSE(blocked.in_place);
  CHECK_FALSE(blocked.input_reordered.at(0));
  std::string report;
  for (const LayoutRun* run : {&plain, &blocked})
    CHECK_MESSAGE(count_mismatches(run->output, ref_flatten(to_ref(x), 1), 0.0, report) == 0,
                  report);
}
