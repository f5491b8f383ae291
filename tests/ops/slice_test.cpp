#include <doctest/doctest.h>

#include <algorithm>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;

namespace {

ir::Attrs slice_attrs(int64_t axis, int64_t start, int64_t end) {
  return {{"axis", axis}, {"start", start}, {"end", end}};
}

dnnl::memory::desc desc_of(const ir::Shape& shape, tag t) {
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()),
                            dnnl::memory::data_type::f32, t);
}

}  // namespace

TEST_CASE("slice takes a range along any axis, negative axis, start and end counting from the end") {
  struct Case {
    ir::Shape x;
    int64_t axis, start, end;
    size_t want_axis;
    int64_t want_start, want_end;
  };
  const Case cases[] = {
      {{2, 7, 5, 9}, 1, 2, 5, 1, 2, 5},   {{2, 7, 5, 9}, 2, 0, 1, 2, 0, 1},
      {{2, 7, 5, 9}, -1, -4, -1, 3, 5, 8}, {{2, 7, 5, 9}, 3, 4, 9, 3, 4, 9},
      {{2, 11}, 1, 3, 11, 1, 3, 11},       {{2, 3, 2, 4, 3, 5}, 4, 1, -1, 4, 1, 2},
  };
  uint64_t seed = 300;
  for (const Case& c : cases) {
    CAPTURE(ir::shape_str(c.x));
    CAPTURE(c.axis);
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Tensor got = run_op("slice", {x}, {}, slice_attrs(c.axis, c.start, c.end));
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_slice(to_ref(x), c.want_axis, c.want_start, c.want_end),
                                   0.0, report) == 0,
                  report);
  }
}

TEST_CASE("slice keeps nChw16c when the range falls on whole channel blocks") {
  ir::Tensor x = random_tensor({2, 40, 5, 7}, 310);
  struct Case {
    int64_t start, end;
  };
  for (Case c : {Case{16, 32}, Case{0, 16}, Case{32, 40}, Case{16, 40}}) {
    CAPTURE(c.start);
    CAPTURE(c.end);
    LayoutRun run = run_op_in_layout("slice", {x}, {}, slice_attrs(1, c.start, c.end), tag::nChw16c);
    CHECK_FALSE(run.input_reordered.at(0));
    CHECK(run.output_desc == desc_of({2, c.end - c.start, 5, 7}, tag::nChw16c));
    std::string report;
    CHECK_MESSAGE(count_mismatches(run.output, ref_slice(to_ref(x), 1, c.start, c.end), 0.0,
                                   report) == 0,
                  report);
  }
}

TEST_CASE("slice reads x plain when the range cuts through channel blocks, and nhwc as it is") {
  ir::Tensor x = random_tensor({2, 40, 5, 7}, 320);
  LayoutRun blocked = run_op_in_layout("slice", {x}, {}, slice_attrs(1, 3, 21), tag::nChw16c);
  CHECK(blocked.input_reordered.at(0));
  CHECK(blocked.output_desc == desc_of({2, 18, 5, 7}, tag::nchw));
  std::string report;
  CHECK_MESSAGE(count_mismatches(blocked.output, ref_slice(to_ref(x), 1, 3, 21), 0.0, report) == 0,
                report);
  for (int64_t axis : {1, 2, 3}) {
    CAPTURE(axis);
    LayoutRun nhwc = run_op_in_layout("slice", {x}, {}, slice_attrs(axis, 1, 4), tag::nhwc);
    CHECK_FALSE(nhwc.input_reordered.at(0));
    ir::Shape y = {2, 40, 5, 7};
    y[static_cast<size_t>(axis)] = 3;
    CHECK(nhwc.output_desc == desc_of(y, tag::nhwc));
    CHECK_MESSAGE(count_mismatches(nhwc.output, ref_slice(to_ref(x), size_t(axis), 1, 4), 0.0,
                                   report) == 0,
                  report);
  }
  LayoutRun blocked_h = run_op_in_layout("slice", {x}, {}, slice_attrs(2, 1, 4), tag::nChw16c);
  CHECK_FALSE(blocked_h.input_reordered.at(0));
  CHECK(blocked_h.output_desc == desc_of({2, 40, 3, 7}, tag::nChw16c));
}

TEST_CASE("slices of a conv output (a chunk) are right, with at most one reorder of it") {
  // y0, y1 = conv(x).chunk(2, dim=1), with 2 x 11 channels: not whole blocks.
  const int64_t C = 22;
  ir::Tensor x = random_tensor({2, C, 5, 7}, 330);
  ir::Tensor identity({C, C, 1, 1});
  for (int64_t c = 0; c < C; ++c) identity.data[static_cast<size_t>(c * C + c)] = 1.f;
  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 5, 7});
  ir::Node* conv = g.add_node("conv", "conv2d", {in, g.add_param("conv.weight", identity)});
  ir::Node* a = g.add_node("a", "slice", {conv->output}, slice_attrs(1, 0, 11));
  ir::Node* b = g.add_node("b", "slice", {conv->output}, slice_attrs(1, 11, 22));
  g.set_outputs({a->output, b->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  engine::Plan plan = engine::compile(g, 2);
  size_t reorders_of_conv = 0;
  for (const engine::Step& s : engine::plan_impl(plan).steps) reorders_of_conv += s.name == "reorder conv";
  CHECK(reorders_of_conv <= 1);
  std::vector<ir::Tensor> got = engine::Context(plan).run({x});
  std::string report;
  CHECK_MESSAGE(count_mismatches(got.at(0), ref_slice(to_ref(x), 1, 0, 11), 0.0, report) == 0, report);
  CHECK_MESSAGE(count_mismatches(got.at(1), ref_slice(to_ref(x), 1, 11, 22), 0.0, report) == 0, report);
}

TEST_CASE("slice rejects ranges out of x, empty ranges and the symbolic batch") {
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, slice_attrs(1, 2, 8)) ==
        "node 'node' (slice): start 2, end 8: expected 0 <= start < end <= 7 (dim 1 of x 'x0' "
        "[N, 7, 5]) once negatives count from the end");
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, slice_attrs(1, 3, 3)) ==
        "node 'node' (slice): start 3, end 3: expected 0 <= start < end <= 7 (dim 1 of x 'x0' "
        "[N, 7, 5]) once negatives count from the end");
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, slice_attrs(2, -6, 2)) ==
        "node 'node' (slice): start -6, end 2: expected 0 <= start < end <= 5 (dim 2 of x 'x0' "
        "[N, 7, 5]) once negatives count from the end");
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, slice_attrs(3, 0, 1)) ==
        "node 'node' (slice): attribute 'axis': expected a dimension of x (rank 3), got 3");
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, slice_attrs(0, 0, 1)) ==
        "node 'node' (slice): attribute 'axis': cannot slice the symbolic batch of x 'x0' "
        "[N, 7, 5]");
  CHECK(validate_error("slice", {{2, 7, 5}}, {}, {{"axis", int64_t{1}}, {"start", int64_t{0}}}) ==
        "node 'node' (slice): attribute 'end' is required");
}
