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

TEST_CASE("add rejects inputs whose shapes cannot broadcast") {
  CHECK(validate_error("add", {{2, 5, 9, 11}, {2, 5, 9, 10}}, {}) ==
        "node 'node' (add): cannot broadcast a 'x0' [N, 5, 9, 11] with b 'x1' [N, 5, 9, 10] "
        "(aligned on the right, each dimension pair must be equal or contain a 1)");
}

TEST_CASE("add takes a parameter as an input and broadcasts it") {
  ir::Tensor x = random_tensor({2, 5, 9, 11}, 23), p = random_tensor({5, 1, 1}, 24);
  ir::Tensor got = run_op("add", {x}, {p});
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, ref_binary("add", to_ref(x), to_ref(p)), 1e-6, report) == 0,
                report);
}
