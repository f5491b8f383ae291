#include "engine/inplace_concat.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <cstring>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "tests/ops/reference.h"

using namespace kiln;
using test::random_tensor;

namespace {

// Builds graphs of convs, batchnorms and concats with random weights and BN statistics.
struct GraphMaker {
  ir::Graph g;
  uint64_t seed = 500;

  ir::Value* conv(const std::string& name, ir::Value* x, int64_t oc, int64_t k, bool relu = true) {
    const int64_t c = x->shape[1];
    ir::Value* w = g.add_param(name + ".w", random_tensor({oc, c, k, k}, ++seed, -0.5, 0.5));
    ir::Value* b = g.add_param(name + ".b", random_tensor({oc}, ++seed));
    ir::Attrs attrs = {{"padding", std::vector<int64_t>{k / 2, k / 2}}};
    if (relu) attrs["activation"] = std::string("relu");
    return infer(g.add_node(name, "conv2d", {x, w, b}, attrs));
  }

  ir::Value* bn_relu(const std::string& name, ir::Value* x) {
    const int64_t c = x->shape[1];
    ir::Value* bn = infer(g.add_node(
        name, "batchnorm",
        {x, g.add_param(name + ".mean", random_tensor({c}, ++seed)),
         g.add_param(name + ".var", random_tensor({c}, ++seed, 0.5, 2.0)),
         g.add_param(name + ".gamma", random_tensor({c}, ++seed, 0.5, 1.5)),
         g.add_param(name + ".beta", random_tensor({c}, ++seed))},
        {}));
    return infer(g.add_node(name + ".relu", "relu", {bn}, {}));
  }

  ir::Value* concat(const std::string& name, const std::vector<ir::Value*>& xs) {
    return infer(g.add_node(name, "concat", xs, {{"axis", int64_t{1}}}));
  }

  ir::Value* infer(ir::Node* node) {
    ir::infer_shapes(g, ops::registry().schemas());
    return node->output;
  }
};

// DenseNet's block: each layer reads the concat of all features so far
// (bn -> relu -> conv), and the block ends with the concat of them all.
// With `convs` false, bn -> relu stands in for each conv: eltwise ops keep
// the plain layout of the graph input, where a batch-1 channel slice is
// dense on any CPU (the convs' layout is oneDNN's choice per CPU).
ir::Graph dense_block(int64_t layers, bool convs) {
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 16, 4, 4});
  std::vector<ir::Value*> features = {convs ? m.conv("stem", x, 32, 3) : m.bn_relu("stem", x)};
  for (int64_t i = 0; i < layers; ++i) {
    const std::string name = "layer" + std::to_string(i);
    ir::Value* layer = m.bn_relu(name + ".bn", m.concat(name + ".cat", features));
    features.push_back(convs ? m.conv(name + ".conv", layer, 16, 3, false) : layer);
  }
  m.g.set_outputs({m.conv("head", m.concat("block.cat", features), 16, 1)});
  ir::verify(m.g, ops::registry().schemas());
  return std::move(m.g);
}

// GoogLeNet's inception block: four branches (1x1; 1x1 -> 3x3; 1x1 -> 5x5;
// maxpool 3x3 -> 1x1) joined along the channels.
ir::Graph inception_block() {
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 24, 9, 8});
  ir::Value* stem = m.conv("stem", x, 32, 3);
  ir::Value* b1 = m.conv("b1", stem, 16, 1);
  ir::Value* b2 = m.conv("b2.3x3", m.conv("b2.1x1", stem, 24, 1), 32, 3);
  ir::Value* b3 = m.conv("b3.5x5", m.conv("b3.1x1", stem, 8, 1), 16, 5);
  ir::Value* pool = m.infer(m.g.add_node("b4.pool", "max_pool2d", {stem},
                                         {{"kernel", std::vector<int64_t>{3, 3}},
                                          {"stride", std::vector<int64_t>{1, 1}},
                                          {"padding", std::vector<int64_t>{1, 1}}}));
  ir::Value* b4 = m.conv("b4.1x1", pool, 16, 1);
  m.g.set_outputs({m.conv("head", m.concat("cat", {b1, b2, b3, b4}), 16, 1)});
  ir::verify(m.g, ops::registry().schemas());
  return std::move(m.g);
}

// Four bn -> relu branches of the input: plain, like dense_block(n, false).
ir::Graph plain_branches() {
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 16, 4, 4});
  std::vector<ir::Value*> branches;
  for (int b = 0; b < 4; ++b) branches.push_back(m.bn_relu("b" + std::to_string(b), x));
  m.g.set_outputs({m.conv("head", m.concat("cat", branches), 16, 1)});
  ir::verify(m.g, ops::registry().schemas());
  return std::move(m.g);
}

std::vector<ir::Tensor> run(const ir::Graph& g, int64_t batch, bool inplace) {
  engine::CompileOptions options;
  options.inplace_concat = inplace;
  engine::Plan plan = engine::compile(g, batch, options);
  engine::Context ctx(plan);
  return ctx.run({random_tensor(plan.input_shapes()[0], 77)});
}

// How many concat steps run in place, and how many concat steps there are.
std::pair<int, int> concats_in_place(const ir::Graph& g, int64_t batch) {
  engine::Plan plan = engine::compile(g, batch);
  std::pair<int, int> count{0, 0};
  for (const engine::StepInfo& s : plan.steps()) {
    if (s.op != "concat") continue;
    ++count.second;
    if (s.implementation == "in place") ++count.first;
  }
  return count;
}

// The in-place plan's outputs equal the copying plan's, bit for bit.
void check_same_bits(const ir::Graph& g, int64_t batch) {
  std::vector<ir::Tensor> copied = run(g, batch, false), in_place = run(g, batch, true);
  REQUIRE(copied.size() == in_place.size());
  for (size_t i = 0; i < copied.size(); ++i) {
    REQUIRE(copied[i].data.size() == in_place[i].data.size());
    CHECK(std::memcmp(copied[i].data.data(), in_place[i].data.data(),
                      copied[i].data.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("a DenseNet block's concats all run in place at batch 1, with the copying plan's bits") {
  ir::Graph g = dense_block(3, false);
  CHECK(concats_in_place(g, 1) == std::make_pair(4, 4));
  check_same_bits(g, 1);
}

TEST_CASE("a DenseNet block's concats share one buffer, prefixes of the block's last concat") {
  ir::Graph g = dense_block(3, false);
  engine::Plan plan = engine::compile(g, 1);
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  std::vector<const engine::Step*> concats;
  for (const engine::Step& s : impl.steps) {
    if (s.op == "concat") concats.push_back(&s);
  }
  REQUIRE(concats.size() == 4);
  const engine::Step& last = *concats.back();
  const int buffer = impl.memory.buffer_of[last.output];
  for (const engine::Step* s : concats) {
    CHECK(impl.memory.buffer_of[s->output] == buffer);
    CHECK(impl.memory.offset_of[s->output] == 0);  // every layer's concat starts with the stem
  }
  // The block's concat reads the stem and each layer's output at growing offsets.
  size_t offset = 0;
  for (int t : last.inputs) {
    CHECK(impl.memory.buffer_of[t] == buffer);
    CHECK(impl.memory.offset_of[t] == offset);
    offset += impl.tensors[t].desc.get_size();
  }
  CHECK(offset == impl.tensors[last.output].desc.get_size());
}

TEST_CASE("four branches write into their slices of the concat at batch 1") {
  ir::Graph g = plain_branches();
  CHECK(concats_in_place(g, 1) == std::make_pair(1, 1));
  check_same_bits(g, 1);
}

TEST_CASE("concats copy at batch 2, where a plain slice is strided, with the same bits") {
  // Only the first layer's concat, of the stem alone, is the same bytes at any batch.
  CHECK(concats_in_place(dense_block(2, false), 2) == std::make_pair(1, 3));
  CHECK(concats_in_place(plain_branches(), 2) == std::make_pair(0, 1));
  check_same_bits(dense_block(2, false), 2);
  check_same_bits(plain_branches(), 2);
}

TEST_CASE("concats after convs give the copying plan's bits, whether or not they run in place") {
  // In place only where oneDNN's conv writes a dense slice, or runs the same
  // implementation on the strided one: a choice per CPU.
  for (int64_t batch : {1, 2}) {
    CAPTURE(batch);
    check_same_bits(dense_block(3, true), batch);
    check_same_bits(inception_block(), batch);
  }
}

TEST_CASE("a concat copies when a slice would not start at a multiple of 64 bytes") {
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 3, 3, 5});  // 60 bytes per channel
  m.g.set_outputs({m.conv("head", m.concat("cat", {m.bn_relu("a", x), m.bn_relu("b", x)}), 4, 1)});
  ir::verify(m.g, ops::registry().schemas());
  CHECK(concats_in_place(m.g, 1).first == 0);
  check_same_bits(m.g, 1);
}

TEST_CASE("a concat copies when an input is a graph input or a graph output") {
  // Plain tensors throughout (relu keeps its input's layout), so that the
  // concats read the graph's own input and output tensors on any CPU, and
  // batch 1, where their slices are dense: in place but for that.
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 16, 5, 6});
  ir::Value* a = m.infer(m.g.add_node("a", "relu", {x}));
  ir::Value* b = m.infer(m.g.add_node("b", "relu", {x}));
  ir::Value* with_input = m.concat("with_input", {x, a});
  ir::Value* with_output = m.concat("with_output", {a, b});
  m.g.set_outputs({m.infer(m.g.add_node("head1", "relu", {with_input})),
                   m.infer(m.g.add_node("head2", "relu", {with_output})), b});
  ir::verify(m.g, ops::registry().schemas());
  engine::Plan plan = engine::compile(m.g, 1);
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  int reading_graph_tensors = 0;
  for (size_t s = 0; s < impl.steps.size(); ++s) {
    const engine::Step& step = impl.steps[s];
    if (step.op != "concat") continue;
    bool reads_graph_tensor = false;
    for (int t : step.inputs) {
      for (const std::vector<int>* ends : {&impl.input_tensors, &impl.output_tensors})
        reads_graph_tensor |= std::find(ends->begin(), ends->end(), t) != ends->end();
    }
    CAPTURE(step.name);
    CHECK(reads_graph_tensor);
    reading_graph_tensors += reads_graph_tensor;
    CHECK(plan.steps().at(s).implementation != "in place");
  }
  CHECK(reading_graph_tensors == 2);
  check_same_bits(m.g, 1);
}

TEST_CASE("a concat copies when an input is produced in place or repeated") {
  GraphMaker m;
  ir::Value* x = m.g.add_input("x", {ir::kBatch, 16, 5, 6});
  ir::Value* a = m.conv("a", x, 16, 3);
  ir::Value* r = m.conv("r", x, 16, 3);
  // conv2d_add sums into r in place (r has no other reader).
  ir::Value* w = m.g.add_param("s.w", random_tensor({16, 16, 3, 3}, 900, -0.5, 0.5));
  ir::Value* s = m.infer(m.g.add_node("s", "conv2d_add", {a, r, w},
                                      {{"padding", std::vector<int64_t>{1, 1}}}));
  ir::Value* b = m.conv("b", x, 16, 3);
  m.g.set_outputs({m.conv("head1", m.concat("with_sum", {s, a}), 16, 1),
                   m.conv("head2", m.concat("twice", {b, b}), 16, 1)});
  ir::verify(m.g, ops::registry().schemas());
  CHECK(concats_in_place(m.g, 1).first == 0);
  check_same_bits(m.g, 1);
}
