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

std::vector<size_t> resolved(const Ints& dims) {
  std::vector<size_t> out;
  for (int64_t d : dims) out.push_back(static_cast<size_t>(d < 0 ? d + int64_t(dims.size()) : d));
  return out;
}

}  // namespace

TEST_CASE("permute reorders the dims of plain inputs of rank 2 to 6") {
  struct Case {
    ir::Shape x;
    Ints dims;
  };
  const Case cases[] = {
      {{2, 5}, {0, 1}},
      {{2, 5, 7}, {0, 2, 1}},
      {{2, 3, 5, 7}, {0, 2, 3, 1}},  // ConvNeXt: NCHW -> NHWC
      {{2, 5, 7, 3}, {0, 3, 1, 2}},  // and back
      {{2, 3, 5, 7}, {0, -1, -3, -2}},
      {{2, 3, 2, 5, 3}, {0, 2, 1, 4, 3}},  // ShuffleNet's channel shuffle, 5-D
      {{2, 3, 2, 2, 3, 2}, {0, 5, 3, 1, 4, 2}},
  };
  uint64_t seed = 500;
  for (const Case& c : cases) {
    CAPTURE(ir::shape_str(c.x));
    CAPTURE(ir::attr_str(c.dims));
    ir::Tensor x = random_tensor(c.x, ++seed);
    ir::Tensor got = run_op("permute", {x}, {}, {{"dims", c.dims}});
    std::string report;
    CHECK_MESSAGE(count_mismatches(got, ref_permute(to_ref(x), resolved(c.dims)), 0.0, report) == 0,
                  report);
  }
}

TEST_CASE("permute reads blocked and channels-last layouts in one reorder") {
  ir::Tensor x = random_tensor({2, 20, 5, 3}, 510);
  for (tag t : {tag::nChw16c, tag::nChw8c, tag::nhwc}) {
    for (const Ints& dims : {Ints{0, 2, 3, 1}, Ints{0, 1, 3, 2}, Ints{0, 3, 1, 2}}) {
      CAPTURE(static_cast<int>(t));
      CAPTURE(ir::attr_str(dims));
      LayoutRun run = run_op_in_layout("permute", {x}, {}, {{"dims", dims}}, t);
      CHECK_FALSE(run.input_reordered.at(0));
      std::string report;
      CHECK_MESSAGE(count_mismatches(run.output, ref_permute(to_ref(x), resolved(dims)), 0.0,
                                     report) == 0,
                    report);
    }
  }
}

TEST_CASE("permute of an nhwc x to NHWC copies nothing when x dies at the node") {
  ir::Tensor x = random_tensor({2, 20, 5, 3}, 520);
  LayoutRun run = run_op_in_layout("permute", {x}, {}, {{"dims", Ints{0, 2, 3, 1}}}, tag::nhwc, true);
  CHECK(run.in_place);
  std::string report;
  CHECK_MESSAGE(count_mismatches(run.output, ref_permute(to_ref(x), {0, 2, 3, 1}), 0.0, report) == 0,
                report);
  LayoutRun other = run_op_in_layout("permute", {x}, {}, {{"dims", Ints{0, 3, 1, 2}}}, tag::nhwc, true);
  CHECK_FALSE(other.in_place);
}

TEST_CASE("permute and reshape after a conv, with a symbolic batch, match at every batch size") {
  // ShuffleNet's channel shuffle: view(N, 2, C/2, H, W), transpose(1, 2), view(N, C, H, W).
  const int64_t C = 6;
  ir::Tensor identity({C, C, 1, 1});
  for (int64_t c = 0; c < C; ++c) identity.data[static_cast<size_t>(c * C + c)] = 1.f;
  ir::Graph g;
  ir::Value* in = g.add_input("x", {ir::kBatch, C, 5, 7});
  ir::Node* conv = g.add_node("conv", "conv2d", {in, g.add_param("w", identity)});
  ir::Node* split = g.add_node("split", "reshape", {conv->output}, {{"shape", Ints{0, 2, 3, 5, 7}}});
  ir::Node* swap = g.add_node("swap", "permute", {split->output}, {{"dims", Ints{0, 2, 1, 3, 4}}});
  ir::Node* join = g.add_node("join", "reshape", {swap->output}, {{"shape", Ints{0, -1, 5, 7}}});
  g.set_outputs({join->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  CHECK(join->output->shape == ir::Shape{ir::kBatch, C, 5, 7});
  for (int64_t batch : {1, 3}) {
    CAPTURE(batch);
    ir::Tensor x = random_tensor({batch, C, 5, 7}, 530);
    RefTensor want = ref_permute({{batch, 2, 3, 5, 7}, to_ref(x).data}, {0, 2, 1, 3, 4});
    want.shape = {batch, C, 5, 7};
    std::string report;
    CHECK_MESSAGE(count_mismatches(engine::run_graph(g, {x}).at(0), want, 0.0, report) == 0, report);
  }
}

TEST_CASE("permute rejects repeated, missing and out-of-range dims, and moving the batch") {
  auto error = [](const Ints& dims) {
    return validate_error("permute", {{2, 3, 5, 7}}, {}, {{"dims", dims}});
  };
  CHECK(error({0, 1, 1, 2}) ==
        "node 'node' (permute): attribute 'dims' [0, 1, 1, 2]: dim 1 is repeated, expected a "
        "permutation");
  CHECK(error({0, 1, 2, -3}) ==
        "node 'node' (permute): attribute 'dims' [0, 1, 2, -3]: dim 1 is repeated, expected a "
        "permutation");
  CHECK(error({0, 1, 2, 4}) ==
        "node 'node' (permute): attribute 'dims': expected a dimension of x (rank 4), got 4");
  CHECK(error({0, 2, 1}) ==
        "node 'node' (permute): attribute 'dims' [0, 2, 1]: expected 4 dims, one per dim of x "
        "(shape [N, 3, 5, 7])");
  CHECK(error({1, 0, 2, 3}) ==
        "node 'node' (permute): attribute 'dims' [1, 0, 2, 3]: would move the symbolic batch of x "
        "'x0' out of dim 0");
}
