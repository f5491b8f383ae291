#include <doctest/doctest.h>

#include <algorithm>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;

namespace {

std::vector<RefTensor> refs(const std::vector<ir::Tensor>& xs) {
  std::vector<RefTensor> out;
  for (const ir::Tensor& x : xs) out.push_back(to_ref(x));
  return out;
}

}  // namespace

TEST_CASE("concat joins plain inputs along every axis, negative axes counting from the end") {
  struct Case {
    std::vector<ir::Shape> shapes;
    int64_t axis;
  };
  const Case cases[] = {
      {{{2, 3, 5, 7}, {2, 4, 5, 7}, {2, 1, 5, 7}}, 1},
      {{{2, 3, 5, 7}, {2, 3, 2, 7}}, 2},
      {{{2, 3, 5, 7}, {2, 3, 5, 1}, {2, 3, 5, 4}}, -1},
      {{{2, 9}, {2, 4}}, 1},
      {{{2, 3, 5}, {2, 3, 6}}, 2},
      {{{2, 3, 2, 2, 3}, {2, 3, 2, 1, 3}}, 3},
      {{{2, 1, 2, 3, 2, 3}, {2, 2, 2, 3, 2, 3}}, -5},
      {{{2, 3, 5, 7}}, 1},
  };
  uint64_t seed = 200;
  for (const Case& c : cases) {
    std::vector<ir::Tensor> xs;
    for (const ir::Shape& s : c.shapes) xs.push_back(random_tensor(s, ++seed));
    CAPTURE(ir::shape_str(c.shapes[0]));
    CAPTURE(c.axis);
    const size_t axis = static_cast<size_t>(c.axis < 0 ? c.axis + int64_t(c.shapes[0].size()) : c.axis);
    ir::Tensor got = run_op("concat", xs, {}, {{"axis", c.axis}});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_concat(refs(xs), axis), 0.0, report) == 0, report);
  }
}

TEST_CASE("concat of nChw16c inputs with channels in multiples of 16 stays nChw16c") {
  std::vector<ir::Tensor> xs = {random_tensor({2, 32, 5, 7}, 210), random_tensor({2, 16, 5, 7}, 211),
                                random_tensor({2, 48, 5, 7}, 212)};
  LayoutRun run = run_op_in_layout("concat", xs, {}, {{"axis", int64_t{1}}}, tag::nChw16c);
  CHECK(run.output_desc == dnnl::memory::desc({2, 96, 5, 7}, dnnl::memory::data_type::f32,
                                              tag::nChw16c));
  CHECK(std::count(run.input_reordered.begin(), run.input_reordered.end(), true) == 0);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run.output, ref_concat(refs(xs), 1), 0.0, report) == 0, report);
}

TEST_CASE("concat reads inputs in the blocked and channels-last layouts of convs, any channel count") {
  std::vector<ir::Tensor> xs = {random_tensor({2, 17, 5, 7}, 220), random_tensor({2, 5, 5, 7}, 221),
                                random_tensor({2, 20, 5, 7}, 222)};
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc}) {
    for (int64_t axis : {1, 2, 3}) {
      CAPTURE(static_cast<int>(t));
      CAPTURE(axis);
      std::vector<ir::Tensor> in = xs;
      if (axis != 1) {  // equal channels, different sizes along the axis
        ir::Shape a = {2, 6, 5, 7}, b = {2, 6, 5, 7};
        a[static_cast<size_t>(axis)] = 3;
        in = {random_tensor(a, 223), random_tensor(b, 224)};
      }
      LayoutRun run = run_op_in_layout("concat", in, {}, {{"axis", axis}}, t);
      CHECK(std::count(run.input_reordered.begin(), run.input_reordered.end(), true) == 0);
      std::string report;
      CHECK_MESSAGE(count_mismatches(run.output, ref_concat(refs(in), size_t(axis)), 0.0, report) == 0,
                    report);
    }
  }
}

TEST_CASE("concat after convs runs on their layouts with no reorder in between") {
  std::vector<ir::Tensor> xs = {random_tensor({2, 32, 5, 7}, 230), random_tensor({2, 16, 5, 7}, 231),
                                random_tensor({2, 16, 5, 7}, 232)};
  std::vector<std::string> steps;
  ir::Tensor got = run_op_after_conv("concat", xs, {}, {{"axis", int64_t{1}}}, &steps);
  // Three convs (each maybe after a reorder of its plain input), the concat, the output reorder.
  REQUIRE(steps.size() >= 5);
  CHECK(steps[steps.size() - 2] == "concat");
  CHECK(steps[steps.size() - 3] == "conv2d");
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, ref_concat(refs(xs), 1), 0.0, report) == 0, report);
}

TEST_CASE("concat reads inputs of mixed layouts in the largest one's, off the reference kernel") {
  // DenseNet with --conv-algo auto: the running concat in nhwc (brgconv) and a
  // Winograd conv's 32 new channels in nChw16c.
  std::vector<ir::Tensor> xs = {random_tensor({2, 96, 5, 7}, 250), random_tensor({2, 32, 5, 7}, 251)};
  const dnnl::memory::desc nhwc = layout(xs[0].shape, tag::nhwc);
  const dnnl::memory::desc blocked = layout(xs[1].shape, tag::nChw16c);
  for (bool largest_first : {true, false}) {
    CAPTURE(largest_first);
    std::vector<ir::Tensor> in = xs;
    std::vector<dnnl::memory::desc> given = {nhwc, blocked};
    if (!largest_first) {
      std::swap(in[0], in[1]);
      std::swap(given[0], given[1]);
    }
    KernelRun run = run_kernel("concat", {activation(in[0]), activation(in[1])}, given,
                               {{"axis", int64_t{1}}});
    CHECK(run.implementation.rfind("ref", 0) != 0);
    const size_t big = largest_first ? 0 : 1;
    CHECK(run.asked[big] == given[big]);  // the large input is not reordered
    CHECK(run.asked[1 - big] == layout(in[1 - big].shape, tag::nhwc));
    std::string report;
    CHECK_MESSAGE(count_mismatches(run.y, ref_concat(refs(in), 1), 0.0, report) == 0, report);
  }
}

TEST_CASE("concat keeps mixed layouts that a fast kernel joins as they are") {
  // Channels in multiples of 16: oneDNN's simple concat copies nChw16c and
  // nhwc alike, so nothing is reordered (whatever the kernel is on this CPU).
  std::vector<ir::Tensor> xs = {random_tensor({2, 32, 5, 7}, 252), random_tensor({2, 16, 5, 7}, 253)};
  std::vector<dnnl::memory::desc> given = {layout(xs[0].shape, tag::nChw16c),
                                           layout(xs[1].shape, tag::nChw16c)};
  KernelRun run = run_kernel("concat", {activation(xs[0]), activation(xs[1])}, given,
                             {{"axis", int64_t{1}}});
  CHECK(run.asked == given);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run.y, ref_concat(refs(xs), 1), 0.0, report) == 0, report);
}

TEST_CASE("a channel concat runs Kiln's copy loop in its inputs' layout, whole blocks or not") {
  // Channels in whole blocks of 16 (and of 8): every layout a conv writes is
  // the loop's. 20 + 12 channels: whole blocks of neither, so nChw8c and
  // nChw16c inputs keep oneDNN's concat, while nhwc and nchw take the loop.
  const std::vector<ir::Shape> whole = {{3, 32, 5, 7}, {3, 16, 5, 7}, {3, 48, 5, 7}};
  const std::vector<ir::Shape> partial = {{3, 20, 5, 7}, {3, 12, 5, 7}};
  for (const auto& shapes : {whole, partial}) {
    std::vector<ir::Tensor> xs;
    for (const ir::Shape& s : shapes) xs.push_back(random_tensor(s, 260 + xs.size()));
    for (tag t : {tag::nhwc, tag::nchw, tag::nChw8c, tag::nChw16c}) {
      CAPTURE(ir::shape_str(shapes[0]));
      CAPTURE(static_cast<int>(t));
      std::vector<NodeInput> inputs;
      std::vector<dnnl::memory::desc> given;
      for (const ir::Tensor& x : xs) {
        inputs.push_back(activation(x));
        given.push_back(layout(x.shape, t));
      }
      KernelRun run = run_kernel("concat", inputs, given, {{"axis", int64_t{1}}});
      const bool blocked = t == tag::nChw8c || t == tag::nChw16c;
      const bool loop = shapes == whole || !blocked;
      CHECK((run.implementation.rfind("kiln:", 0) == 0) == loop);
      CHECK(run.asked == given);  // nothing reordered
      if (loop) CHECK(run.output == layout(run.y.shape, t));
      std::string report;
      CHECK_MESSAGE(count_mismatches(run.y, ref_concat(refs(xs), 1), 0.0, report) == 0, report);
    }
  }
}

TEST_CASE("concat takes parameters among its inputs, in their place") {
  ir::Tensor x = random_tensor({2, 3, 4}, 240), p = random_tensor({2, 2, 4}, 241);
  ir::Tensor y = random_tensor({2, 1, 4}, 242);
  // One-node graphs put activations first: x, y, then the parameter p.
  LayoutRun run = run_op_in_layout("concat", {x, y}, {p}, {{"axis", int64_t{1}}}, tag::abcd);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run.output, ref_concat(refs({x, y, p}), 1), 0.0, report) == 0,
                report);
}

TEST_CASE("concat rejects shapes that disagree off the axis, bad axes and the symbolic batch") {
  CHECK(validate_error("concat", {{2, 3, 5, 7}, {2, 4, 5, 6}}, {}, {{"axis", int64_t{1}}}) ==
        "node 'node' (concat): inputs must have equal shapes except along dim 1, got 'x0' "
        "[N, 3, 5, 7] and 'x1' [N, 4, 5, 6]");
  CHECK(validate_error("concat", {{2, 3, 5, 7}, {2, 3, 5}}, {}, {{"axis", int64_t{1}}}) ==
        "node 'node' (concat): inputs must have equal shapes except along dim 1, got 'x0' "
        "[N, 3, 5, 7] and 'x1' [N, 3, 5]");
  CHECK(validate_error("concat", {{2, 3, 5, 7}, {2, 3, 5, 7}}, {}, {{"axis", int64_t{4}}}) ==
        "node 'node' (concat): attribute 'axis': expected a dimension of the inputs (rank 4), got 4");
  CHECK(validate_error("concat", {{2, 3}, {2, 3}}, {}, {{"axis", int64_t{-3}}}) ==
        "node 'node' (concat): attribute 'axis': expected a dimension of the inputs (rank 2), got -3");
  CHECK(validate_error("concat", {{2, 3}, {2, 3}}, {}, {{"axis", int64_t{0}}}) ==
        "node 'node' (concat): attribute 'axis': cannot concatenate along the symbolic batch of "
        "'x0' [N, 3]");
  CHECK(validate_error("concat", {{2, 3}, {2, 3}}, {}) ==
        "node 'node' (concat): attribute 'axis' is required");
  CHECK(validate_error("concat", {{2, 3}}, {{1, 3}}, {{"axis", int64_t{1}}}) ==
        "node 'node' (concat): inputs must have equal shapes except along dim 1, got 'x0' [N, 3] "
        "and 'p0' [1, 3]");
  CHECK(validate_error("concat", {}, {{1, 3}}, {{"axis", int64_t{1}}}) ==
        "node 'node' (concat): expected at least one activation input, got only parameters");
}
