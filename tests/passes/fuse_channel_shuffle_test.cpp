#include "passes/fuse_channel_shuffle.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/verify.h"
#include "passes/pipeline.h"
#include "tests/passes/graph_builders.h"

namespace {

using namespace kiln::test::pass_test_names;

const kiln::passes::Pass kShuffle{"fuse_channel_shuffle", kiln::passes::fuse_channel_shuffle};

// A ShuffleNetV2 unit's join: x [N, 6, 5, 7] -> conv "a" (4 channels) -> conv
// "b" (8), "cat" = concat(a, b), then the shuffle in `groups` as torchvision
// spells it: "view" reshape to [N, G, 12/G, 5, 7], "transpose" permute
// `dims`, "view_1" reshape back; conv "out" reads it.
Graph shuffle_unit(int64_t groups = 2, std::vector<int64_t> dims = {0, 2, 1, 3, 4}) {
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 6, 5, 7});
  Value* a = kiln::test::add_conv(g, "a", x, 6, 4, 11);
  Value* b = kiln::test::add_conv(g, "b", a, 4, 8, 13, 1);
  Value* cat = g.add_node("cat", "concat", {a, b}, {{"axis", int64_t{1}}})->output;
  Value* view = g.add_node("view", "reshape", {cat},
                           {{"shape", std::vector<int64_t>{0, groups, 12 / groups, 5, 7}}})
                    ->output;
  Value* t = g.add_node("transpose", "permute", {view}, {{"dims", dims}})->output;
  const std::vector<int64_t> back = {0, 12, 5, 7};
  Value* shuffled = g.add_node("view_1", "reshape", {t}, {{"shape", back}})->output;
  g.set_outputs({kiln::test::add_conv(g, "out", shuffled, 12, 3, 17, 1)});
  kiln::ir::infer_shapes(g, ops());
  return g;
}

std::vector<std::string> input_names(const Node& node) {
  std::vector<std::string> names;
  for (const Value* in : node.inputs) names.push_back(in->name);
  return names;
}

}  // namespace

TEST_CASE("fuse_channel_shuffle makes the concat, reshape, permute and reshape one channel_shuffle") {
  for (int64_t groups : {2, 3, 4}) {
    CAPTURE(groups);
    Graph g = shuffle_unit(groups);
    const PassReport r = kiln::test::pass_and_compare(
        g, kShuffle, {kiln::test::random_tensor({2, 6, 5, 7}, 3, -2, 2)}, 1e-12);  // bit for bit
    CHECK(r.changed == std::vector<std::string>{
                           "concat 'cat', reshape 'view', permute 'transpose' and reshape "
                           "'view_1' into channel_shuffle (" + std::to_string(groups) +
                           " groups)"});
    CHECK(g.count_op("concat") == 0);
    CHECK(g.count_op("reshape") == 0);
    CHECK(g.count_op("permute") == 0);
    const Node* fused = g.find_node("view_1");
    REQUIRE(fused);
    CHECK(fused->op == "channel_shuffle");
    CHECK(input_names(*fused) == std::vector<std::string>{"a", "b"});
    CHECK(kiln::ir::attr_int(*fused, "groups", 0) == groups);
    CHECK(fused->output->users.size() == 1);
  }
}

TEST_CASE("fuse_channel_shuffle keeps a concat that must stay, and reads its output") {
  Graph g = shuffle_unit();
  g.set_outputs({g.outputs()[0], g.find_value("cat")});
  const PassReport r = kiln::test::pass_and_compare(
      g, kShuffle, {kiln::test::random_tensor({1, 6, 5, 7}, 4, -2, 2)}, 1e-12);
  CHECK(r.changed == std::vector<std::string>{
                         "reshape 'view', permute 'transpose' and reshape 'view_1' into "
                         "channel_shuffle (2 groups)"});
  CHECK(g.count_op("concat") == 1);
  CHECK(input_names(*g.find_node("view_1")) == std::vector<std::string>{"cat"});
}

TEST_CASE("fuse_channel_shuffle leaves other permutes and views that must stay") {
  // Not a shuffle: the spatial dims swapped too.
  Graph other = shuffle_unit(2, {0, 2, 1, 4, 3});
  PassReport r = kiln::passes::run_passes(other, {kShuffle}, ops()).at(0);
  CHECK(r.changed.empty());
  CHECK(r.skipped.empty());
  CHECK(other.count_op("permute") == 1);

  // The permuted view is also a graph output.
  Graph output = shuffle_unit();
  output.set_outputs({output.outputs()[0], output.find_value("transpose")});
  r = kiln::passes::run_passes(output, {kShuffle}, ops()).at(0);
  CHECK(r.changed.empty());
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].node == "view_1");
  CHECK(r.skipped[0].reason == "the output of permute 'transpose' is a graph output");
  CHECK(output.count_op("permute") == 1);
}

TEST_CASE("fuse_channel_shuffle runs in the whole pipeline to the same outputs") {
  Graph g = shuffle_unit();
  Graph original = g.clone();
  kiln::passes::run_passes(g, kiln::passes::pipeline(kiln::passes::FuseLevel::all), ops());
  CHECK(g.count_op("channel_shuffle") == 1);
  const std::vector<kiln::ir::Tensor> x = {kiln::test::random_tensor({3, 6, 5, 7}, 5, -2, 2)};
  CHECK(kiln::test::relative_error(kiln::engine::run_graph(g, x).at(0),
                                   kiln::engine::run_graph(original, x).at(0)) < 1e-6);
}
