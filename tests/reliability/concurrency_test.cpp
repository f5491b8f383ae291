// One compiled Plan, many threads: each thread runs the plan through its own
// Context (buffers, scratchpad, stream) and must get exactly the outputs a
// single-threaded run gets for the same input. A Context that shared a
// buffer with another, or a kernel that kept state between runs, shows up
// here as a wrong output.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "ir/graph.h"
#include "ir/verify.h"
#include "loaders/random.h"
#include "ops/registry.h"

using kiln::ir::Graph;
using kiln::ir::Tensor;
using kiln::ir::Value;

namespace {

constexpr int kThreads = 4;
constexpr int kRunsPerThread = 50;
constexpr int64_t kBatch = 2;

// A small residual CNN with every kind of step a plan has (blocked layouts and
// reorders, an in-place add, pooling, a plain linear at the end):
// conv 3->8 -> bn -> relu -> max_pool -> conv 8->8 -> bn -> add -> relu
//   -> global_avg_pool -> flatten -> linear 8->5, input [N, 3, 12, 12].
Graph small_model() {
  kiln::loaders::Random rng(42);
  auto param = [&](Graph& g, const std::string& name, kiln::ir::Shape shape, double lo, double hi) {
    return g.add_param(name, kiln::loaders::random_tensor(shape, rng, lo, hi));
  };
  auto bn = [&](Graph& g, const std::string& name, Value* x, int64_t c) {
    return g.add_node(name, "batchnorm",
                      {x, param(g, name + ".running_mean", {c}, -0.3, 0.3),
                       param(g, name + ".running_var", {c}, 0.5, 1.5),
                       param(g, name + ".weight", {c}, 0.5, 1.5), param(g, name + ".bias", {c}, -0.2, 0.2)},
                      {{"eps", 1e-5}})
        ->output;
  };
  Graph g;
  Value* x = g.add_input("x", {kiln::ir::kBatch, 3, 12, 12});
  Value* c1 = g.add_node("conv1", "conv2d",
                         {x, param(g, "conv1.weight", {8, 3, 3, 3}, -0.4, 0.4),
                          param(g, "conv1.bias", {8}, -0.1, 0.1)},
                         {{"padding", std::vector<int64_t>{1, 1}}})
                  ->output;
  Value* r1 = g.add_node("relu1", "relu", {bn(g, "bn1", c1, 8)})->output;
  Value* p = g.add_node("pool", "max_pool2d", {r1}, {{"kernel", std::vector<int64_t>{2, 2}}})->output;
  Value* c2 = g.add_node("conv2", "conv2d", {p, param(g, "conv2.weight", {8, 8, 3, 3}, -0.2, 0.2)},
                         {{"padding", std::vector<int64_t>{1, 1}}})
                  ->output;
  Value* sum = g.add_node("add", "add", {bn(g, "bn2", c2, 8), p})->output;
  Value* r2 = g.add_node("relu2", "relu", {sum})->output;
  Value* gap = g.add_node("avgpool", "global_avg_pool2d", {r2})->output;
  Value* flat = g.add_node("flatten", "flatten", {gap}, {{"start_dim", int64_t(1)}})->output;
  Value* fc = g.add_node("fc", "linear", {flat, param(g, "fc.weight", {5, 8}, -0.3, 0.3),
                                          param(g, "fc.bias", {5}, -0.1, 0.1)})
                  ->output;
  g.set_outputs({fc});
  const kiln::ir::OpTable& ops = kiln::ops::registry().schemas();
  kiln::ir::infer_shapes(g, ops);
  kiln::ir::verify(g, ops);
  return g;
}

// Input number `i`: a different tensor for every run, the same on every call.
Tensor input(int i) {
  kiln::loaders::Random rng(1000 + static_cast<uint64_t>(i));
  return kiln::loaders::random_tensor({kBatch, 3, 12, 12}, rng, -1, 1);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("concurrency: 4 threads x 50 runs of one plan, each with its own context, match a "
          "single-threaded run bit for bit") {
  Graph graph = small_model();
  for (kiln::engine::FuseLevel level : {kiln::engine::FuseLevel::none, kiln::engine::FuseLevel::batchnorm,
                                        kiln::engine::FuseLevel::all}) {
    CAPTURE(static_cast<int>(level));
    Graph g = graph.clone();
    kiln::engine::fuse(g, level);
    const kiln::engine::Plan plan = kiln::engine::compile(g, kBatch);

    // The reference: every input run one after another on one context.
    const int n_inputs = kThreads * kRunsPerThread;
    std::vector<Tensor> expected;
    {
      kiln::engine::Context ctx(plan);
      for (int i = 0; i < n_inputs; ++i) expected.push_back(ctx.run({input(i)})[0]);
    }
    REQUIRE(expected[0].shape == kiln::ir::Shape{kBatch, 5});
    CHECK_FALSE(same_bits(expected[0], expected[1]));  // the inputs really differ

    // Thread t runs inputs t, t + 4, t + 8, ...: neighbouring inputs run at the same time.
    std::vector<std::vector<Tensor>> got(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          kiln::engine::Context ctx(plan);
          for (int r = 0; r < kRunsPerThread; ++r) got[t].push_back(ctx.run({input(t + kThreads * r)})[0]);
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (std::thread& th : threads) th.join();

    int mismatches = 0;
    for (int t = 0; t < kThreads; ++t) {
      CHECK_MESSAGE(errors[t].empty(), "thread " << t << ": " << errors[t]);
      REQUIRE(got[t].size() == static_cast<size_t>(kRunsPerThread));
      for (int r = 0; r < kRunsPerThread; ++r) mismatches += !same_bits(got[t][r], expected[t + kThreads * r]);
    }
    CHECK(mismatches == 0);
  }
}
