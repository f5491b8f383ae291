#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("relu matches the reference on rank-4 and rank-2 inputs") {
  for (const ir::Shape& shape : {ir::Shape{2, 5, 9, 11}, ir::Shape{3, 37}}) {
    CAPTURE(ir::shape_str(shape));
    ir::Tensor x = random_tensor(shape, 11);
    ir::Tensor got = run_op("relu", {x}, {});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_relu(to_ref(x)), 0.0, report) == 0, report);
  }
}

TEST_CASE("relu rejects attributes") {
  CHECK(validate_error("relu", {{2, 5}}, {}, {{"inplace", int64_t{1}}}) ==
        "node 'node' (relu): unknown attribute 'inplace' (known: none)");
}
