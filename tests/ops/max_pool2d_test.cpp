#include <doctest/doctest.h>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct MaxPoolCase {
  const char* name;
  std::vector<int64_t> kernel, stride, padding, dilation;
  int64_t ceil_mode;
};

const MaxPoolCase kMaxPoolCases[] = {
    {"max_pool2d/K=3,S=2,P=1 (ResNet stem)", {3, 3}, {2, 2}, {1, 1}, {1, 1}, 0},
    {"max_pool2d/K=3,S=2,P=1,ceil", {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1},
    {"max_pool2d/K=2,S=2,ceil (partial last window)", {2, 2}, {2, 2}, {0, 0}, {1, 1}, 1},
    {"max_pool2d/K=3,S=3,P=1,ceil (last W window would start in the padding)", {3, 3}, {3, 3},
     {1, 1}, {1, 1}, 1},
    {"max_pool2d/K=3,S=1,P=1,D=2", {3, 3}, {1, 1}, {1, 1}, {2, 2}, 0},
    {"max_pool2d/K=3x2,S=2x1,P=1x0,D=2x3,ceil", {3, 2}, {2, 1}, {1, 0}, {2, 3}, 1},
};

}  // namespace

TEST_CASE("max_pool2d matches the reference with padding, dilation and ceil_mode") {
  for (const ir::Shape& shape : {ir::Shape{2, 5, 9, 11}, ir::Shape{2, 17, 9, 11}}) {
    ir::Tensor x = random_tensor(shape, 61);
    for (const MaxPoolCase& c : kMaxPoolCases) {
      INFO(c.name);
      CAPTURE(ir::shape_str(shape));
      ir::Attrs attrs = {{"kernel", c.kernel}, {"stride", c.stride}, {"padding", c.padding},
                         {"dilation", c.dilation}, {"ceil_mode", c.ceil_mode}};
      ir::Tensor got = run_op("max_pool2d", {x}, {}, attrs);
      RefTensor want = ref_max_pool2d(to_ref(x), c.kernel, c.stride, c.padding, c.dilation,
                                      c.ceil_mode == 1);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, want, 0.0, report) == 0, report);
    }
  }
}

TEST_CASE("max_pool2d follows PyTorch's ceil_mode output size") {
  ir::Tensor x = random_tensor({2, 5, 9, 11}, 62);
  ir::Attrs attrs = {{"kernel", std::vector<int64_t>{3, 3}},
                     {"stride", std::vector<int64_t>{3, 3}},
                     {"padding", std::vector<int64_t>{1, 1}},
                     {"ceil_mode", int64_t{1}}};
  // H: ceil(8 / 3) + 1 = 4. W: ceil(10 / 3) + 1 = 5, but that window would
  // start at 12 - 1 = 11, past the input, so PyTorch drops it: 4.
  CHECK(run_op("max_pool2d", {x}, {}, attrs).shape == ir::Shape{2, 5, 4, 4});
}

TEST_CASE("max_pool2d matches the reference for every small kernel, stride, padding and ceil_mode") {
  uint64_t seed = 64;
  for (int64_t H : {5, 6, 9, 10}) {
    ir::Tensor x = random_tensor({1, 3, H, H + 1}, ++seed);
    for (int64_t k = 2; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t ceil_mode : {0, 1}) {
            CAPTURE(H);
            CAPTURE(k);
            CAPTURE(s);
            CAPTURE(p);
            CAPTURE(ceil_mode);
            ir::Attrs attrs = {{"kernel", std::vector<int64_t>{k, k}},
                               {"stride", std::vector<int64_t>{s, s}},
                               {"padding", std::vector<int64_t>{p, p}},
                               {"ceil_mode", ceil_mode}};
            RefTensor want =
                ref_max_pool2d(to_ref(x), {k, k}, {s, s}, {p, p}, {1, 1}, ceil_mode == 1);
            std::string report;
            CHECK_MESSAGE(count_mismatches(run_op("max_pool2d", {x}, {}, attrs), want, 0.0,
                                           report) == 0,
                          report);
          }
  }
}

TEST_CASE("max_pool2d uses stride = kernel by default") {
  ir::Tensor x = random_tensor({2, 3, 9, 11}, 63);
  ir::Tensor got = run_op("max_pool2d", {x}, {}, {{"kernel", std::vector<int64_t>{2, 3}}});
  RefTensor want = ref_max_pool2d(to_ref(x), {2, 3}, {2, 3}, {0, 0}, {1, 1}, false);
  CHECK(got.shape == ir::Shape{2, 3, 4, 3});
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 0.0, report) == 0, report);
}

TEST_CASE("max_pool2d rejects a missing kernel, padding over half the kernel and an empty output") {
  CHECK(validate_error("max_pool2d", {{2, 3, 9, 11}}, {}) ==
        "node 'node' (max_pool2d): attribute 'kernel' is required");
  CHECK(validate_error("max_pool2d", {{2, 3, 9, 11}}, {},
                       {{"kernel", std::vector<int64_t>{3, 3}},
                        {"padding", std::vector<int64_t>{2, 1}}}) ==
        "node 'node' (max_pool2d): attribute 'padding': expected at most half the kernel "
        "[3, 3], got [2, 1]");
  CHECK(validate_error("max_pool2d", {{2, 3, 9, 4}}, {},
                       {{"kernel", std::vector<int64_t>{3, 3}},
                        {"dilation", std::vector<int64_t>{1, 2}}}) ==
        "node 'node' (max_pool2d): kernel along W spans 5, larger than the padded input 4: the "
        "output would be empty");
  CHECK(validate_error("max_pool2d", {{2, 3, 9, 11}}, {},
                       {{"kernel", std::vector<int64_t>{3, 3}}, {"ceil_mode", int64_t{2}}}) ==
        "node 'node' (max_pool2d): attribute 'ceil_mode': expected 0 or 1, got 2");
}
