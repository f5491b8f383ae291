#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;
using Ints = std::vector<int64_t>;

TEST_CASE("adaptive_avg_pool2d uses PyTorch's windows for output sizes that divide or not") {
  struct Case {
    ir::Shape x;
    int64_t OH, OW;
  };
  const Case cases[] = {
      {{2, 3, 14, 14}, 7, 7},  // divides: a pooling with kernel 2
      {{2, 3, 7, 7}, 3, 3},    // windows of 3 moving by 2: a pooling too
      {{2, 3, 9, 11}, 3, 3},   // 11 -> 3: windows of 4, 5, 4
      {{2, 3, 5, 6}, 3, 4},    // 5 -> 3: windows of 2, 3, 2
      {{2, 3, 1, 1}, 7, 7},    // VGG on a small input: every window is the one pixel
      {{2, 3, 5, 7}, 7, 9},    // more cells than pixels
      {{2, 3, 9, 11}, 1, 1},   // global_avg_pool2d
      {{2, 3, 9, 11}, 9, 11},  // output size = input size
      {{2, 3, 9, 11}, 1, 4},
  };
  uint64_t seed = 700;
  for (const Case& c : cases) {
    CAPTURE(ir::shape_str(c.x));
    CAPTURE(c.OH);
    CAPTURE(c.OW);
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Tensor got = run_op("adaptive_avg_pool2d", {x}, {}, {{"output_size", Ints{c.OH, c.OW}}});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_adaptive_avg_pool2d(to_ref(x), c.OH, c.OW), 1e-5,
                                   report) == 0,
                  report);
  }
}

TEST_CASE("adaptive_avg_pool2d pools in a conv's layout where the windows are regular") {
  ir::Tensor x = random_tensor({2, 20, 14, 7}, 710);
  struct Case {
    int64_t OH, OW;
    bool regular;
  };
  for (Case c : {Case{7, 7, true}, Case{2, 3, true}, Case{14, 7, true}, Case{5, 3, false}}) {
    for (tag t : {tag::nChw16c, tag::nhwc}) {
      CAPTURE(c.OH);
      CAPTURE(c.OW);
      CAPTURE(static_cast<int>(t));
      LayoutRun run = run_op_in_layout("adaptive_avg_pool2d", {x}, {},
                                       {{"output_size", Ints{c.OH, c.OW}}}, t);
      CHECK(run.input_reordered.at(0) == !c.regular);
      std::string report;
      CHECK_MESSAGE(count_mismatches(run.output, ref_adaptive_avg_pool2d(to_ref(x), c.OH, c.OW),
                                     1e-5, report) == 0,
                    report);
    }
  }
}

TEST_CASE("adaptive_avg_pool2d to the input size copies nothing when x dies at the node") {
  ir::Tensor x = random_tensor({2, 20, 7, 7}, 720);
  LayoutRun run = run_op_in_layout("adaptive_avg_pool2d", {x}, {}, {{"output_size", Ints{7, 7}}},
                                   tag::nChw16c, true);
  CHECK(run.in_place);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run.output, to_ref(x), 0.0, report) == 0, report);
}

TEST_CASE("adaptive_avg_pool2d rejects output sizes below 1 or not two of them") {
  auto error = [](const ir::Attrs& attrs) {
    return validate_error("adaptive_avg_pool2d", {{2, 3, 9, 11}}, {}, attrs);
  };
  CHECK(error({{"output_size", Ints{0, 3}}}) ==
        "node 'node' (adaptive_avg_pool2d): attribute 'output_size': expected 2 positive "
        "integers, got [0, 3]");
  CHECK(error({{"output_size", Ints{3}}}) ==
        "node 'node' (adaptive_avg_pool2d): attribute 'output_size': expected 2 positive "
        "integers, got [3]");
  CHECK(error({}) == "node 'node' (adaptive_avg_pool2d): attribute 'output_size' is required");
  CHECK(validate_error("adaptive_avg_pool2d", {{2, 3, 9}}, {}, {{"output_size", Ints{3, 3}}}) ==
        "node 'node' (adaptive_avg_pool2d): x 'x0': expected rank 4, got shape [N, 3, 9]");
}
