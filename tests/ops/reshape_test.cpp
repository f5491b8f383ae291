#include <doctest/doctest.h>

#include "engine/engine.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;
using Ints = std::vector<int64_t>;

namespace {

// The same data under another shape: a reshape changes nothing else.
RefTensor with_shape(const ir::Tensor& x, const ir::Shape& shape) { return {shape, to_ref(x).data}; }

}  // namespace

TEST_CASE("reshape copies dims for 0, infers one -1 and keeps C order") {
  struct Case {
    ir::Shape x;
    Ints shape;
    ir::Shape want;
  };
  const Case cases[] = {
      {{2, 6, 5, 7}, {0, 2, 3, 35}, {2, 2, 3, 35}},  // shufflenet's channel split
      {{2, 6, 5, 7}, {0, -1}, {2, 210}},
      {{2, 6, 5, 7}, {0, 3, -1, 0}, {2, 3, 10, 7}},
      {{2, 6, 1, 1}, {-1, 6}, {2, 6}},  // x.view(-1, 6): -1 is the batch
      {{2, 12}, {0, 2, 2, 3}, {2, 2, 2, 3}},
      {{2, 3, 4, 5, 6}, {0, 60, 2, 3}, {2, 60, 2, 3}},
      {{2, 3, 4}, {0, 1, 3, 1, 4, 1}, {2, 1, 3, 1, 4, 1}},
  };
  uint64_t seed = 400;
  for (const Case& c : cases) {
    CAPTURE(ir::shape_str(c.x));
    CAPTURE(ir::attr_str(c.shape));
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Tensor got = run_op("reshape", {x}, {}, {{"shape", c.shape}});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, with_shape(x, c.want), 0.0, report) == 0, report);
  }
}

TEST_CASE("reshape keeps the symbolic batch and runs at any batch size") {
  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, 6, 5, 7});
  ir::Node* a = g.add_node("a", "reshape", {in}, {{"shape", Ints{0, 2, 3, -1}}});
  ir::Node* b = g.add_node("b", "reshape", {a->output}, {{"shape", Ints{-1, 210}}});
  g.set_outputs({b->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  CHECK(a->output->shape == ir::Shape{ir::kBatch, 2, 3, 35});
  CHECK(b->output->shape == ir::Shape{ir::kBatch, 210});
  for (int64_t batch : {1, 3}) {
    CAPTURE(batch);
    ir::Tensor x = random_tensor({batch, 6, 5, 7}, 410);
    ir::Tensor got = engine::run_graph(g, {x}).at(0);
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, with_shape(x, {batch, 210}), 0.0, report) == 0, report);
  }
}

TEST_CASE("reshape of a blocked x writes plain C order in one reorder") {
  ir::Tensor x = random_tensor({2, 20, 5, 3}, 420);
  for (tag t : {tag::nChw16c, tag::nhwc}) {
    LayoutRun run = run_op_in_layout("reshape", {x}, {}, {{"shape", Ints{0, 4, 5, 15}}}, t);
    CHECK_FALSE(run.input_reordered.at(0));
    CHECK_FALSE(run.in_place);
    std::string report;
    CHECK_MESSAGE(count_mismatches(run.output, with_shape(x, {2, 4, 5, 15}), 0.0, report) == 0,
                  report);
  }
}

TEST_CASE("reshape of a plain x that dies at the node copies nothing") {
  ir::Tensor x = random_tensor({2, 20, 5, 3}, 430);
  LayoutRun last = run_op_in_layout("reshape", {x}, {}, {{"shape", Ints{0, -1}}}, tag::nchw, true);
  CHECK(last.in_place);
  CHECK(last.implementation == "kiln:alias");
  LayoutRun read_later = run_op_in_layout("reshape", {x}, {}, {{"shape", Ints{0, -1}}}, tag::nchw);
  CHECK_FALSE(read_later.in_place);
  std::string report;
  CHECK_MESSAGE(count_mismatches(last.output, with_shape(x, {2, 300}), 0.0, report) == 0, report);
  CHECK_MESSAGE(count_mismatches(read_later.output, with_shape(x, {2, 300}), 0.0, report) == 0,
                report);
}

TEST_CASE("reshape rejects another element count, two -1s, bad sizes and losing the batch") {
  auto error = [](const ir::Shape& x, const Ints& shape) {
    return validate_error("reshape", {x}, {}, {{"shape", shape}});
  };
  CHECK(error({2, 6, 5}, {0, 7, 5}) ==
        "node 'node' (reshape): attribute 'shape' [0, 7, 5]: the shape holds more elements than x "
        "(x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {0, 3, 5}) ==
        "node 'node' (reshape): attribute 'shape' [0, 3, 5]: expected 30 elements per sample, got "
        "15 (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {0, -1, -1}) ==
        "node 'node' (reshape): attribute 'shape' [0, -1, -1]: two dims are -1, at most one can "
        "be inferred (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {0, -2, 15}) ==
        "node 'node' (reshape): attribute 'shape' [0, -2, 15]: dim 1 is -2, expected -1, 0 or a "
        "positive size (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {0, 7, -1}) ==
        "node 'node' (reshape): attribute 'shape' [0, 7, -1]: cannot infer the -1: 30 elements "
        "per sample do not divide by 7 (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6}, {0, 3, 0}) ==
        "node 'node' (reshape): attribute 'shape' [0, 3, 0]: dim 2 is 0 but x has no dim 2 "
        "(x 'x0' is [N, 6])");
  CHECK(error({2, 6, 5}, {2, 30}) ==
        "node 'node' (reshape): attribute 'shape' [2, 30]: dim 0 must keep the symbolic batch: "
        "use 0 (copy x's dim 0) or -1 there (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {-1, 15}) ==
        "node 'node' (reshape): attribute 'shape' [-1, 15]: a -1 in dim 0 stands for the symbolic "
        "batch, so the other dims must hold one sample's 30 elements, not 15 (x 'x0' is [N, 6, 5])");
  CHECK(error({2, 6, 5}, {}) ==
        "node 'node' (reshape): attribute 'shape' []: expected 1 to 6 dims (x 'x0' is [N, 6, 5])");
  CHECK(validate_error("reshape", {{2, 6}}, {}) == "node 'node' (reshape): attribute 'shape' is required");
}
