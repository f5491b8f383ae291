#include <doctest/doctest.h>

#include "ops/common.h"
#include "tests/ops/activation_cases.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

struct ConvCase {
  const char* name;
  ir::Shape x;       // [N, C, H, W]
  ir::Shape weight;  // [OC, C/groups, KH, KW]
  bool bias;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
};

const ConvCase kConvCases[] = {
    {"conv2d/N=2,C=3,OC=5,H=9,W=11,K=3,P=1,bias", {2, 3, 9, 11}, {5, 3, 3, 3}, true,
     {1, 1}, {1, 1}, {1, 1}, 1},
    {"conv2d/N=2,C=3,OC=7,K=3x5,S=2,P=1x2,D=2", {2, 3, 9, 11}, {7, 3, 3, 5}, false,
     {2, 2}, {1, 2}, {2, 2}, 1},
    {"conv2d/N=2,C=5,OC=7,K=1,S=2 (downsample)", {2, 5, 9, 11}, {7, 5, 1, 1}, true,
     {2, 2}, {0, 0}, {1, 1}, 1},
    {"conv2d/N=2,C=9,OC=6,K=3,G=3,S=2x1,P=1", {2, 9, 9, 11}, {6, 3, 3, 3}, true,
     {2, 1}, {1, 1}, {1, 1}, 3},
    {"conv2d/N=2,C=7,OC=7,K=3,G=7 (depthwise),S=2,P=1", {2, 7, 9, 11}, {7, 1, 3, 3}, false,
     {2, 2}, {1, 1}, {1, 1}, 7},
    {"conv2d/N=2,C=5,OC=10,K=3,G=5 (depthwise x2),D=2,P=2", {2, 5, 9, 11}, {10, 1, 3, 3}, true,
     {1, 1}, {2, 2}, {2, 2}, 5},
    {"conv2d/N=2,C=17,OC=19,K=3,P=1 (padded blocks)", {2, 17, 9, 11}, {19, 17, 3, 3}, true,
     {1, 1}, {1, 1}, {1, 1}, 1},
    {"conv2d/N=2,C=32,OC=48,K=3,S=2,P=1", {2, 32, 9, 11}, {48, 32, 3, 3}, false,
     {2, 2}, {1, 1}, {1, 1}, 1},
    {"conv2d/N=2,C=32,OC=32,K=3,G=32 (depthwise),P=1", {2, 32, 9, 11}, {32, 1, 3, 3}, true,
     {1, 1}, {1, 1}, {1, 1}, 32},
};

}  // namespace

TEST_CASE("conv2d matches the plain-loop reference on odd shapes, groups, dilation and strides") {
  uint64_t seed = 100;
  for (const ConvCase& c : kConvCases) {
    INFO(c.name);
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Tensor w = random_tensor(c.weight, ++seed);
    ir::Tensor b = random_tensor({c.weight[0]}, ++seed);
    std::vector<ir::Tensor> params = {w};
    if (c.bias) params.push_back(b);
    ir::Attrs attrs = {{"stride", c.stride}, {"padding", c.padding}, {"dilation", c.dilation},
                       {"groups", c.groups}};
    ir::Tensor got = run_op("conv2d", {x}, params, attrs);
    RefTensor rb = to_ref(b);
    RefTensor want = ref_conv2d(to_ref(x), to_ref(w), c.bias ? &rb : nullptr, c.stride,
                                c.padding, c.dilation, c.groups);
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
  }
}

TEST_CASE("a grouped conv whose input arrives in nhwc stays in nhwc where a fast kernel runs it") {
  // 16 channels per group (RegNetX's), and 8 (RegNetY's); a depthwise conv
  // keeps oneDNN's pick.
  for (int64_t per_group : {16, 8, 1}) {
    CAPTURE(per_group);
    const ir::Tensor x = random_tensor({1, 64, 10, 12}, 300);
    const ir::Tensor w = random_tensor({64, per_group, 3, 3}, 301);
    const ir::Attrs attrs = {{"padding", std::vector<int64_t>{1, 1}}, {"groups", 64 / per_group}};
    const dnnl::memory::desc nhwc = layout(x.shape, dnnl::memory::format_tag::nhwc);
    KernelRun run = run_kernel("conv2d", {activation(x), parameter(w)}, {nhwc}, attrs);
    INFO(run.implementation);
    // oneDNN 2.6's grouped kernel for AVX-512 reads and writes nhwc.
    if (ops::vector_width() == 16 && per_group == 16) {
      CHECK(run.asked[0] == nhwc);
      CHECK(run.output == layout(run.y.shape, dnnl::memory::format_tag::nhwc));
    }
    if (run.asked[0] == nhwc && per_group > 1) CHECK(run.implementation.rfind("ref", 0) != 0);
    std::string report;
    CHECK_MESSAGE(count_mismatches(run.y, ref_conv2d(to_ref(x), to_ref(w), nullptr, {1, 1}, {1, 1},
                                                     {1, 1}, 64 / per_group),
                                   1e-5, report) == 0,
                  report);
  }
}

TEST_CASE("conv2d applies every activation as a post-op, matching the reference") {
  uint64_t seed = 400;
  for (const ActivationCase& a : activation_cases()) {
    // A 3x3 stride-1 conv (Winograd's shape) and a depthwise one.
    for (const ConvCase& c : {kConvCases[6], kConvCases[8]}) {
      CAPTURE(case_name(a));
      INFO(c.name);
      ir::Tensor x = random_tensor(c.x, ++seed);
      ir::Tensor w = random_tensor(c.weight, ++seed, -0.3, 0.3);
      ir::Tensor b = random_tensor({c.weight[0]}, ++seed);
      ir::Attrs attrs = with_activation({{"padding", c.padding}, {"groups", c.groups}}, a);
      ir::Tensor got = run_op("conv2d", {x}, {w, b}, attrs);
      RefTensor rb = to_ref(b);
      RefTensor y = ref_conv2d(to_ref(x), to_ref(w), &rb, c.stride, c.padding, c.dilation,
                               c.groups);
      std::string report;
      CHECK_MESSAGE(count_mismatches(got, ref_activation(a.op, y, a.attrs), 1e-5, report) == 0,
                    report);
    }
  }
}

TEST_CASE("conv2d uses stride 1, no padding, dilation 1 and one group by default") {
  ir::Tensor x = random_tensor({2, 3, 9, 11}, 1);
  ir::Tensor w = random_tensor({5, 3, 3, 3}, 2);
  ir::Tensor got = run_op("conv2d", {x}, {w});
  RefTensor want = ref_conv2d(to_ref(x), to_ref(w), nullptr, {1, 1}, {0, 0}, {1, 1}, 1);
  CHECK(got.shape == ir::Shape{2, 5, 7, 9});
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 1e-5, report) == 0, report);
}

TEST_CASE("conv2d rejects a weight whose input channels do not match x") {
  CHECK(validate_error("conv2d", {{2, 3, 9, 11}}, {{5, 4, 3, 3}}) ==
        "node 'node' (conv2d): weight 'p0' [5, 4, 3, 3]: expected 3 input channels per group "
        "(x has 3 channels, groups 1), got 4");
  CHECK(validate_error("conv2d", {{2, 6, 9, 11}}, {{6, 1, 3, 3}}, {{"groups", int64_t{3}}}) ==
        "node 'node' (conv2d): weight 'p0' [6, 1, 3, 3]: expected 2 input channels per group "
        "(x has 6 channels, groups 3), got 1");
}

TEST_CASE("conv2d rejects groups that do not divide the channels") {
  CHECK(validate_error("conv2d", {{2, 5, 9, 11}}, {{6, 1, 3, 3}}, {{"groups", int64_t{2}}}) ==
        "node 'node' (conv2d): groups 2 must divide input channels 5 and output channels 6");
  CHECK(validate_error("conv2d", {{2, 6, 9, 11}}, {{5, 2, 3, 3}}, {{"groups", int64_t{3}}}) ==
        "node 'node' (conv2d): groups 3 must divide input channels 6 and output channels 5");
  CHECK(validate_error("conv2d", {{2, 6, 9, 11}}, {{6, 6, 3, 3}}, {{"groups", int64_t{0}}}) ==
        "node 'node' (conv2d): attribute 'groups': expected a positive integer, got 0");
}

TEST_CASE("conv2d rejects a zero stride, negative padding and unknown attributes") {
  CHECK(validate_error("conv2d", {{2, 3, 9, 11}}, {{5, 3, 3, 3}},
                       {{"stride", std::vector<int64_t>{0, 1}}}) ==
        "node 'node' (conv2d): attribute 'stride': expected 2 positive integers, got [0, 1]");
  CHECK(validate_error("conv2d", {{2, 3, 9, 11}}, {{5, 3, 3, 3}},
                       {{"padding", std::vector<int64_t>{1, -1}}}) ==
        "node 'node' (conv2d): attribute 'padding': expected 2 non-negative integers, got [1, -1]");
  CHECK(validate_error("conv2d", {{2, 3, 9, 11}}, {{5, 3, 3, 3}},
                       {{"strides", std::vector<int64_t>{1, 1}}}) ==
        "node 'node' (conv2d): unknown attribute 'strides' (known: stride, padding, dilation, "
        "groups, activation, activation_min, activation_max, activation_approximate, "
        "activation_negative_slope, activation_alpha)");
}

TEST_CASE("conv2d rejects a bias of the wrong length and a kernel larger than the padded input") {
  CHECK(validate_error("conv2d", {{2, 3, 9, 11}}, {{5, 3, 3, 3}, {4}}) ==
        "node 'node' (conv2d): bias 'p1': expected shape [5], got [4]");
  CHECK(validate_error("conv2d", {{2, 3, 4, 11}}, {{5, 3, 3, 3}},
                       {{"dilation", std::vector<int64_t>{3, 1}}}) ==
        "node 'node' (conv2d): kernel along H spans 7 (kernel 3, dilation 3), larger than the "
        "padded input 4: the output would be empty");
}
