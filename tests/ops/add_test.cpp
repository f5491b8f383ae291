#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("add matches the reference on rank-4 and rank-2 inputs") {
  for (const ir::Shape& shape :
       {ir::Shape{2, 5, 9, 11}, ir::Shape{2, 17, 9, 11}, ir::Shape{3, 37}}) {
    CAPTURE(ir::shape_str(shape));
    ir::Tensor a = random_tensor(shape, 21), b = random_tensor(shape, 22);
    ir::Tensor got = run_op("add", {a, b}, {});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_add(to_ref(a), to_ref(b)), 1e-6, report) == 0,
                  report);
  }
}

TEST_CASE("add rejects inputs of different shapes") {
  CHECK(validate_error("add", {{2, 5, 9, 11}, {2, 5, 9, 10}}, {}) ==
        "node 'node' (add): inputs must have the same shape, got a 'x0' [N, 5, 9, 11] and "
        "b 'x1' [N, 5, 9, 10]");
}

TEST_CASE("add rejects a parameter as an input") {
  CHECK(validate_error("add", {{2, 5}}, {{2, 5}}) ==
        "node 'node' (add): input 1 (b) 'p0' must be an activation, got a parameter");
}
