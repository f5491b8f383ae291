#include "engine/memory_plan.h"

#include <doctest/doctest.h>

#include <memory>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/error.h"
#include "tests/ops/reference.h"

using kiln::engine::MemoryPlan;
using kiln::engine::MemoryStep;
using kiln::engine::MemoryTensor;
using kiln::engine::plan_memory;

namespace {

// Tensors "t0", "t1", ... of the given sizes.
std::vector<MemoryTensor> tensors_of(const std::vector<size_t>& bytes) {
  std::vector<MemoryTensor> out;
  for (size_t i = 0; i < bytes.size(); ++i) out.push_back({"t" + std::to_string(i), bytes[i]});
  return out;
}

// Checks that no two tensors alive at the same time share a buffer, but for
// an in-place step's output and the input it overwrites. A tensor lives from
// the step that writes it (a graph input: from the start) to its last reader
// (a graph output: to the end).
void check_no_live_overlap(const MemoryPlan& plan, const std::vector<MemoryStep>& steps,
                           const std::vector<int>& inputs, const std::vector<int>& outputs) {
  const int n = static_cast<int>(steps.size());
  std::vector<int> first(plan.buffer_of.size(), n + 1), last(plan.buffer_of.size(), -1);
  for (int t : inputs) first[t] = -1;
  for (int s = 0; s < n; ++s) {
    first[steps[s].output] = s;
    for (int t : steps[s].inputs) last[t] = s;
  }
  for (int t : outputs) last[t] = n;
  for (size_t a = 0; a < first.size(); ++a) {
    for (size_t b = a + 1; b < first.size(); ++b) {
      if (plan.buffer_of[a] < 0 || plan.buffer_of[a] != plan.buffer_of[b]) continue;
      const MemoryStep* writer = first[b] >= 0 && first[b] < n ? &steps[first[b]] : nullptr;
      bool handed_over = writer && writer->inplace_input >= 0 &&
                         writer->inputs[writer->inplace_input] == static_cast<int>(a);
      bool apart = last[a] < first[b] || last[b] < first[a];
      CAPTURE(a);
      CAPTURE(b);
      CHECK((apart || handed_over));
    }
  }
}

}  // namespace

TEST_CASE("plan_memory reuses a buffer only after the last reader of its tensor has run") {
  // x -> a -> b; c = f(a, b) is a's last reader; d = f(c) is the output.
  enum { x, a, b, c, d };
  std::vector<MemoryStep> steps = {
      {"a", {x}, a}, {"b", {a}, b}, {"c", {a, b}, c}, {"d", {c}, d}};
  MemoryPlan plan = plan_memory(tensors_of({100, 100, 100, 100, 100}), steps, {x}, {d});
  CHECK(plan.buffer_of[b] == plan.buffer_of[x]);  // x's last reader ran at step a
  CHECK(plan.buffer_of[c] != plan.buffer_of[a]);  // a is still read by c itself
  CHECK(plan.buffer_of[c] != plan.buffer_of[b]);
  CHECK(plan.buffer_of[d] != plan.buffer_of[c]);
  CHECK(plan.buffer_bytes.size() == 3);  // at most three tensors live at once (a, b, c)
  check_no_live_overlap(plan, steps, {x}, {d});
}

TEST_CASE("plan_memory gives an in-place output its input's buffer when that input dies there") {
  // y = conv_add(a, r) summing in place into the residual r, read by nobody after.
  enum { x, r, a, y };
  std::vector<MemoryStep> steps = {{"a", {x}, a}, {"sum", {a, r}, y, /*inplace_input=*/1}};
  MemoryPlan plan = plan_memory(tensors_of({64, 64, 64, 64}), steps, {x, r}, {y});
  CHECK(plan.buffer_of[y] == plan.buffer_of[r]);
  CHECK(plan.buffer_of[y] != plan.buffer_of[a]);
  check_no_live_overlap(plan, steps, {x, r}, {y});
}

TEST_CASE("plan_memory refuses an in-place step whose input is still read later") {
  enum { x, r, a, y, z };
  std::vector<MemoryStep> steps = {
      {"a", {x}, a}, {"sum", {a, r}, y, 1}, {"z", {y, r}, z}};
  CHECK_THROWS_WITH_AS(plan_memory(tensors_of({64, 64, 64, 64, 64}), steps, {x, r}, {z}),
                       "node 'sum': in-place input 't1' is still read later", kiln::Error);
}

TEST_CASE("plan_memory refuses an in-place step whose overwritten input is also another of its inputs") {
  // conv2d_add(x, x) summing in place would overwrite x while its conv reads it.
  enum { x, a, y };
  std::vector<MemoryStep> steps = {{"a", {x}, a}, {"sum", {a, a}, y, 1}};
  CHECK_THROWS_WITH_AS(plan_memory(tensors_of({64, 64, 64}), steps, {x}, {y}),
                       "node 'sum': in-place input 't1' is also its input 0", kiln::Error);
}

TEST_CASE("plan_memory refuses an in-place step over a graph output") {
  enum { x, r, a, y };
  std::vector<MemoryStep> steps = {{"a", {x}, a}, {"sum", {a, r}, y, 1}};
  CHECK_THROWS_AS(plan_memory(tensors_of({64, 64, 64, 64}), steps, {x, r}, {y, r}), kiln::Error);
}

TEST_CASE("plan_memory never lets a later tensor overwrite a graph output") {
  // a is a graph output and read by b; once b has run, nothing may take a's buffer.
  enum { x, a, b, c, d };
  std::vector<MemoryStep> steps = {
      {"a", {x}, a}, {"b", {a}, b}, {"c", {b}, c}, {"d", {c}, d}};
  MemoryPlan plan = plan_memory(tensors_of({100, 100, 100, 100, 100}), steps, {x}, {a, d});
  for (int t : {x, b, c, d}) {
    CAPTURE(t);
    CHECK(plan.buffer_of[t] != plan.buffer_of[a]);
  }
  check_no_live_overlap(plan, steps, {x}, {a, d});
}

TEST_CASE("plan_memory's total matches a hand count on a small graph") {
  // x 400 B -> a 800 B -> b 200 B; c = f(a, b) 800 B; d = f(c) 300 B; e = f(d) 1000 B.
  // Each tensor lives from its writer to its last reader (x from the start,
  // e to the end): x [-1, 0], a [0, 2], b [1, 2], c [2, 3], d [3, 4], e [4, 5].
  // Largest first, each into the smallest buffer free for its whole life:
  //   e 1000: buffer 0
  //   a 800:  buffer 0 is free over [0, 2]
  //   c 800:  buffer 0 holds a at step 2: buffer 1 (800)
  //   x 400:  buffer 0 holds a at step 0; buffer 1 is free over [-1, 0]
  //   d 300:  buffer 0 holds e at 4, buffer 1 c at 3: buffer 2 (300)
  //   b 200:  buffers 0 and 1 hold a and c at step 2; buffer 2 is free
  // Total 1000 + 800 + 300.
  enum { x, a, b, c, d, e };
  std::vector<MemoryStep> steps = {
      {"a", {x}, a}, {"b", {a}, b}, {"c", {a, b}, c}, {"d", {c}, d}, {"e", {d}, e}};
  MemoryPlan plan = plan_memory(tensors_of({400, 800, 200, 800, 300, 1000}), steps, {x}, {e});
  CHECK(plan.buffer_of == std::vector<int>{1, 0, 2, 1, 2, 0});
  CHECK(plan.buffer_bytes == std::vector<size_t>{1000, 800, 300});
  CHECK(plan.total_bytes() == 2100);
  check_no_live_overlap(plan, steps, {x}, {e});
}

TEST_CASE("plan_memory keeps a dense block's long-lived small tensors out of its large buffers") {
  // DenseNet's pattern: each layer reads the block input and every earlier
  // layer's output (n_k), maps it (c_k) to a small output f_k that lives to
  // the block's end. Lives: x [-1, 9], n1 [0, 1], c1 [1, 2], f1 [2, 9],
  // n2 [3, 4], c2 [4, 5], f2 [5, 9], n3 [6, 7], c3 [7, 8], f3 [8, 9], y [9, 10].
  // Largest first: y, c1, c2, n3 share buffer 0 (250); c3, then n2 and n1,
  // buffer 1 (200); x buffer 2 (100); f1, f2, f3 one each (50). Total 700,
  // against 600 live at step 7. Taking whatever buffer was free, step by
  // step, put each f_k in a buffer its layer had just freed, and the larger
  // tensors after it needed new ones: 850 in all.
  enum { x, n1, c1, f1, n2, c2, f2, n3, c3, f3, y };
  std::vector<MemoryStep> steps = {
      {"n1", {x}, n1},          {"c1", {n1}, c1}, {"f1", {c1}, f1},
      {"n2", {x, f1}, n2},      {"c2", {n2}, c2}, {"f2", {c2}, f2},
      {"n3", {x, f1, f2}, n3},  {"c3", {n3}, c3}, {"f3", {c3}, f3},
      {"y", {x, f1, f2, f3}, y}};
  MemoryPlan plan = plan_memory(
      tensors_of({100, 100, 200, 50, 150, 200, 50, 200, 200, 50, 250}), steps, {x}, {y});
  CHECK(plan.buffer_bytes == std::vector<size_t>{250, 200, 100, 50, 50, 50});
  CHECK(plan.total_bytes() == 700);
  for (int t : {c1, c2, n3}) CHECK(plan.buffer_of[t] == plan.buffer_of[y]);
  check_no_live_overlap(plan, steps, {x}, {y});
}

TEST_CASE("a compiled conv2d_add sums in place only when its residual has no other reader") {
  using namespace kiln;
  for (bool residual_is_output : {false, true}) {
    CAPTURE(residual_is_output);
    ir::Graph g = test::conv2d_add_graph({ir::kBatch, 8, 6, 6}, {ir::kBatch, 8, 6, 6},
                                         test::random_tensor({8, 8, 3, 3}, 1), nullptr,
                                         {{"padding", std::vector<int64_t>{1, 1}}},
                                         residual_is_output);
    engine::Plan plan = engine::compile(g, 2);
    const engine::PlanImpl& impl = engine::plan_impl(plan);
    const engine::Step* conv = nullptr;
    for (const engine::Step& s : impl.steps) {
      if (s.op == "conv2d_add") conv = &s;
    }
    REQUIRE(conv != nullptr);
    const std::vector<int>& buffer_of = impl.memory.buffer_of;
    bool shares = buffer_of[conv->output] == buffer_of[conv->inputs.at(1)];
    CHECK(shares == !residual_is_output);
  }
}

// Tensors as tensors_of(), with t[view] a view of t[of] at `offset`.
static void make_view(std::vector<MemoryTensor>& tensors, int view, int of, size_t offset) {
  tensors[view].view_of = of;
  tensors[view].offset = offset;
}

TEST_CASE("plan_memory puts views in their tensor's buffer, held from the first write to the last read") {
  // a = f(x) and b = f(t) are written into c = concat(a, b), which does nothing;
  // t = f(x) is written between them and must not land in c's buffer.
  enum { x, a, t, b, c, d };
  std::vector<MemoryTensor> tensors = tensors_of({128, 64, 128, 64, 128, 128});
  make_view(tensors, a, c, 0);
  make_view(tensors, b, c, 64);
  std::vector<MemoryStep> steps = {
      {"a", {x}, a}, {"t", {x}, t}, {"b", {t}, b}, {"c", {a, b}, c}, {"d", {c}, d}};
  MemoryPlan plan = plan_memory(tensors, steps, {x}, {d});
  CHECK(plan.buffer_of[a] == plan.buffer_of[c]);
  CHECK(plan.buffer_of[b] == plan.buffer_of[c]);
  CHECK(plan.offset_of[a] == 0);
  CHECK(plan.offset_of[b] == 64);
  CHECK(plan.offset_of[c] == 0);
  CHECK(plan.buffer_bytes[plan.buffer_of[c]] >= 128);
  for (int other : {x, t, d}) {
    CAPTURE(other);
    CHECK(plan.buffer_of[other] != plan.buffer_of[c]);
  }
}

TEST_CASE("plan_memory keeps a buffer alive while a view nested in it is still read") {
  // DenseNet: c1 = concat(x0) and c2 = concat(x0, f1) are prefixes of
  // r = concat(x0, f1, f2); c1 is read after r was last read.
  enum { x, x0, c1, f1, c2, f2, r, y, late };
  std::vector<MemoryTensor> tensors = tensors_of({64, 64, 64, 64, 128, 64, 192, 64, 64});
  make_view(tensors, x0, r, 0);
  make_view(tensors, c1, r, 0);
  make_view(tensors, f1, r, 64);
  make_view(tensors, c2, r, 0);
  make_view(tensors, f2, r, 128);
  std::vector<MemoryStep> steps = {{"x0", {x}, x0}, {"c1", {x0}, c1}, {"f1", {c1}, f1},
                                   {"c2", {x0, f1}, c2}, {"f2", {c2}, f2},
                                   {"r", {x0, f1, f2}, r}, {"y", {r}, y}, {"late", {c1, y}, late}};
  MemoryPlan plan = plan_memory(tensors, steps, {x}, {late});
  for (int t : {x0, c1, f1, c2, f2}) {
    CAPTURE(t);
    CHECK(plan.buffer_of[t] == plan.buffer_of[r]);
  }
  CHECK(plan.offset_of[f2] == 128);
  CHECK(plan.buffer_of[y] != plan.buffer_of[r]);
  CHECK(plan.buffer_of[late] != plan.buffer_of[r]);  // c1 is read by `late` itself
}

TEST_CASE("plan_memory refuses views it cannot honour") {
  enum { x, a, b, c };
  std::vector<MemoryStep> steps = {{"a", {x}, a}, {"b", {x}, b}, {"c", {a, b}, c}};
  std::vector<MemoryTensor> outside = tensors_of({64, 64, 64, 96});
  make_view(outside, b, c, 64);
  CHECK_THROWS_WITH_AS(plan_memory(outside, steps, {x}, {c}),
                       "tensor 't2': view of bytes [64, 128) lies outside 't3' of 96 bytes",
                       kiln::Error);
  std::vector<MemoryTensor> chained = tensors_of({64, 64, 64, 128});
  make_view(chained, a, b, 0);
  make_view(chained, b, c, 0);
  CHECK_THROWS_WITH_AS(plan_memory(chained, steps, {x}, {c}),
                       "tensor 't1': a view must be of another tensor that is no view", kiln::Error);
  std::vector<MemoryTensor> of_input = tensors_of({128, 64, 64, 128});
  make_view(of_input, a, x, 0);
  CHECK_THROWS_WITH_AS(plan_memory(of_input, steps, {x}, {c}),
                       "graph input 't0' cannot be a view or have views", kiln::Error);
  std::vector<MemoryTensor> in_place = tensors_of({64, 64, 64, 128});
  make_view(in_place, a, c, 0);
  std::vector<MemoryStep> sum = {{"a", {x}, a}, {"b", {x, a}, b, 1}, {"c", {a, b}, c}};
  CHECK_THROWS_WITH_AS(plan_memory(in_place, sum, {x}, {c}),
                       "node 'b': cannot work in place on a view or a tensor with views",
                       kiln::Error);
}

TEST_CASE("compile from a graph given up keeps a tied weight to its last reader, and runs the same") {
  using namespace kiln;
  // x -> conv a -> relu -> conv b -> y, with a and b tied to one weight w: w
  // must outlive a's compile (b's would throw without it). How soon each
  // weight goes is seen in engine-run's peak RSS, not here.
  auto build = [](std::weak_ptr<const ir::Tensor>* w_out, std::weak_ptr<const ir::Tensor>* bias_out) {
    ir::Graph g;
    const ir::Attrs pad = {{"padding", std::vector<int64_t>{1, 1}}};
    ir::Value* x = g.add_input("x", {ir::kBatch, 4, 6, 6});
    ir::Value* w = g.add_param("w", test::random_tensor({4, 4, 3, 3}, 1));
    ir::Value* bias = g.add_param("bias", test::random_tensor({4}, 2));
    ir::Value* a = g.add_node("a", "conv2d", {x, w, bias}, pad)->output;
    ir::Value* r = g.add_node("relu", "relu", {a})->output;
    g.set_outputs({g.add_node("b", "conv2d", {r, w}, pad)->output});
    if (w_out) *w_out = w->data;
    if (bias_out) *bias_out = bias->data;
    return g;
  };
  const ir::Tensor x = test::random_tensor({2, 4, 6, 6}, 3);

  std::weak_ptr<const ir::Tensor> kept_w;
  ir::Graph kept = build(&kept_w, nullptr);
  engine::Plan from_kept = engine::compile(kept, 2);
  CHECK_FALSE(kept_w.expired());  // the caller's graph keeps its weights

  std::weak_ptr<const ir::Tensor> given_w, given_bias;
  engine::Plan from_given = engine::compile(build(&given_w, &given_bias), 2);
  CHECK(given_w.expired());
  CHECK(given_bias.expired());

  const std::vector<ir::Tensor> want = engine::Context(from_kept).run({x});
  const std::vector<ir::Tensor> got = engine::Context(from_given).run({x});
  REQUIRE(got.size() == 1);
  CHECK(got[0].shape == want[0].shape);
  CHECK(got[0].data == want[0].data);
}
