#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct AvgPoolCase {
  const char* name;
  ir::Shape x;
  std::vector<int64_t> kernel, stride, padding;
  int64_t ceil_mode, count_include_pad;
};

const AvgPoolCase kAvgPoolCases[] = {
    {"avg_pool2d/K=3,S=2,P=1,include_pad", {2, 5, 9, 11}, {3, 3}, {2, 2}, {1, 1}, 0, 1},
    {"avg_pool2d/K=3,S=2,P=1,exclude_pad", {2, 5, 9, 11}, {3, 3}, {2, 2}, {1, 1}, 0, 0},
    {"avg_pool2d/K=2,S=2,ceil,exclude_pad (partial last window)", {2, 7, 9, 11}, {2, 2}, {2, 2},
     {0, 0}, 1, 0},
    {"avg_pool2d/K=3,S=3,P=1,ceil,exclude_pad", {2, 17, 9, 11}, {3, 3}, {3, 3}, {1, 1}, 1, 0},
    {"avg_pool2d/K=3,S=2,P=1,ceil,include_pad (last window inside the padding)", {2, 5, 9, 11},
     {3, 3}, {2, 2}, {1, 1}, 1, 1},
    {"avg_pool2d/K=2x3,S=1x2,P=1x1,include_pad", {2, 3, 9, 11}, {2, 3}, {1, 2}, {1, 1}, 0, 1},
    {"avg_pool2d/K=3,S=2,ceil,include_pad (last window past the input: clipped divisor)",
     {2, 5, 10, 12}, {3, 3}, {2, 2}, {0, 0}, 1, 1},
    {"avg_pool2d/K=4x3,S=3x2,P=1x1,ceil,include_pad (past the padding along H only)",
     {2, 5, 10, 11}, {4, 3}, {3, 2}, {1, 1}, 1, 1},
};

}  // namespace

TEST_CASE("avg_pool2d matches the reference with padding, ceil_mode and count_include_pad") {
  uint64_t seed = 70;
  for (const AvgPoolCase& c : kAvgPoolCases) {
    INFO(c.name);
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Attrs attrs = {{"kernel", c.kernel}, {"stride", c.stride}, {"padding", c.padding},
                       {"ceil_mode", c.ceil_mode}, {"count_include_pad", c.count_include_pad}};
    ir::Tensor got = run_op("avg_pool2d", {x}, {}, attrs);
    RefTensor want = ref_avg_pool2d(to_ref(x), c.kernel, c.stride, c.padding, c.ceil_mode == 1,
                                    c.count_include_pad == 1);
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
  }
}

TEST_CASE("avg_pool2d counts padding by default") {
  ir::Tensor x = random_tensor({2, 3, 9, 11}, 80);
  ir::Attrs attrs = {{"kernel", std::vector<int64_t>{3, 3}},
                     {"padding", std::vector<int64_t>{1, 1}}};
  ir::Tensor got = run_op("avg_pool2d", {x}, {}, attrs);
  RefTensor want = ref_avg_pool2d(to_ref(x), {3, 3}, {3, 3}, {1, 1}, false, true);
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("avg_pool2d divides a ceil_mode window hanging past the padding by its clipped size") {
  // H = 10, K = 3, S = 2: ceil gives 5 rows; the last window covers rows 8..10,
  // and row 10 is beyond the input, where PyTorch divides by 2 * 3, not 3 * 3.
  ir::Attrs attrs = {{"kernel", std::vector<int64_t>{3, 3}},
                     {"stride", std::vector<int64_t>{2, 2}},
                     {"ceil_mode", int64_t{1}}};
  ir::Tensor x = random_tensor({2, 3, 10, 11}, 81);
  RefTensor want = ref_avg_pool2d(to_ref(x), {3, 3}, {2, 2}, {0, 0}, true, true);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run_op("avg_pool2d", {x}, {}, attrs), want, 1e-5, report) == 0,
                report);
  // The fix-up runs in the layout of a conv's output too.
  for (auto t : {dnnl::memory::format_tag::nChw16c, dnnl::memory::format_tag::nhwc}) {
    ir::Tensor x17 = random_tensor({2, 17, 10, 11}, 82);
    LayoutRun run = run_op_in_layout("avg_pool2d", {x17}, {}, attrs, t);
    CHECK_FALSE(run.input_reordered.at(0));
    CHECK(run.implementation.find("kiln:clipped_divisor") != std::string::npos);
    RefTensor want17 = ref_avg_pool2d(to_ref(x17), {3, 3}, {2, 2}, {0, 0}, true, true);
    CHECK_MESSAGE(count_mismatches(run.output, want17, 1e-5, report) == 0, report);
  }
}

TEST_CASE("avg_pool2d matches the reference for every small kernel, stride, padding and both flags") {
  uint64_t seed = 90;
  for (int64_t H : {5, 6, 9, 10}) {
    ir::Tensor x = random_tensor({1, 3, H, H + 1}, ++seed);
    for (int64_t k = 2; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t ceil_mode : {0, 1})
            for (int64_t include_pad : {0, 1}) {
              CAPTURE(H);
              CAPTURE(k);
              CAPTURE(s);
              CAPTURE(p);
              CAPTURE(ceil_mode);
              CAPTURE(include_pad);
              ir::Attrs attrs = {{"kernel", std::vector<int64_t>{k, k}},
                                 {"stride", std::vector<int64_t>{s, s}},
                                 {"padding", std::vector<int64_t>{p, p}},
                                 {"ceil_mode", ceil_mode},
                                 {"count_include_pad", include_pad}};
              RefTensor want = ref_avg_pool2d(to_ref(x), {k, k}, {s, s}, {p, p}, ceil_mode == 1,
                                              include_pad == 1);
              std::string report;
              CHECK_MESSAGE(count_mismatches(run_op("avg_pool2d", {x}, {}, attrs), want, 1e-5,
                                             report) == 0,
                            report);
            }
  }
}

TEST_CASE("avg_pool2d rejects dilation, which PyTorch's avg_pool2d does not have") {
  CHECK(validate_error("avg_pool2d", {{2, 3, 9, 11}}, {},
                       {{"kernel", std::vector<int64_t>{3, 3}},
                        {"dilation", std::vector<int64_t>{2, 2}}}) ==
        "node 'node' (avg_pool2d): unknown attribute 'dilation' (known: kernel, stride, padding, "
        "ceil_mode, count_include_pad)");
}
