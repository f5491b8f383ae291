#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("global_avg_pool2d averages each channel's plane") {
  for (const ir::Shape& shape :
       {ir::Shape{2, 7, 9, 11}, ir::Shape{2, 17, 1, 1}, ir::Shape{2, 3, 1, 5}}) {
    CAPTURE(ir::shape_str(shape));
    ir::Tensor x = random_tensor(shape, 51);
    ir::Tensor got = run_op("global_avg_pool2d", {x}, {});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_global_avg_pool2d(to_ref(x)), 1e-5, report) == 0,
                  report);
  }
}

TEST_CASE("global_avg_pool2d rejects a rank-2 input") {
  CHECK(validate_error("global_avg_pool2d", {{2, 7}}, {}) ==
        "node 'node' (global_avg_pool2d): x 'x0': expected rank 4, got shape [N, 7]");
}
