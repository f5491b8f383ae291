// ConvLayout: its names, the work split `auto` decides by, and convs asked
// for the blocked layout computing what the reference does.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "ir/attrs.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "ops/conv_layout.h"
#include "ops/registry.h"
#include "tests/isa.h"
#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;

namespace {

// x [N, 16, 12, 12] -> 1x1 conv to 32 -> depthwise 3x3 -> 3x3 conv to 16,
// padding 1 where 3x3, biases, relu after the first two.
// `batch`: ir::kBatch for engine::compile, a number to compile nodes alone.
ir::Graph mobile_block(uint64_t seed, int64_t batch = ir::kBatch) {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {batch, 16, 12, 12});
  auto conv = [&](const std::string& name, ir::Value* in, int64_t c, int64_t oc, int64_t k,
                  int64_t groups, const std::string& activation) {
    const uint64_t s = seed + g.nodes().size() * 2;
    return g.add_node(name, "conv2d",
                      {in, g.add_param(name + ".w", random_tensor({oc, c / groups, k, k}, s)),
                       g.add_param(name + ".b", random_tensor({oc}, s + 1))},
                      {{"padding", std::vector<int64_t>{k / 2, k / 2}},
                       {"groups", groups},
                       {"activation", activation}})
        ->output;
  };
  ir::Value* y = conv("expand", x, 16, 32, 1, 1, "relu");
  y = conv("depthwise", y, 32, 32, 3, 32, "relu");
  y = conv("project", y, 32, 16, 3, 1, "none");
  g.set_outputs({y});
  ir::infer_shapes(g, ops::registry().schemas());
  return g;
}

RefTensor reference(const ir::Graph& g, const ir::Tensor& x) {
  RefTensor y = to_ref(x);
  for (const std::string name : {"expand", "depthwise", "project"}) {
    const ir::Node* node = g.find_node(name);
    RefTensor b = to_ref(*node->inputs[2]->data);
    const int64_t k = node->inputs[1]->shape[2];
    y = ref_conv2d(y, to_ref(*node->inputs[1]->data), &b, {1, 1}, {k / 2, k / 2}, {1, 1},
                   ir::attr_int(*node, "groups", 1));
    if (name != "project") y = ref_relu(y);
  }
  return y;
}

}  // namespace

TEST_CASE("conv layout names round-trip, and an unknown one is refused") {
  for (ops::ConvLayout layout : {ops::ConvLayout::auto_, ops::ConvLayout::any,
                                 ops::ConvLayout::blocked}) {
    const std::optional<ops::ConvLayout> back =
        ops::conv_layout_from_name(ops::conv_layout_name(layout));
    REQUIRE(back.has_value());
    CHECK(*back == layout);
  }
  CHECK(std::string(ops::conv_layout_name(ops::ConvLayout::auto_)) == "auto");
  CHECK_FALSE(ops::conv_layout_from_name("nChw16c").has_value());
  CHECK(ops::conv_layout_names() == "auto, any or blocked");
}

TEST_CASE("conv_work splits the multiply-adds into 1x1 or grouped convs and the rest") {
  const ir::Graph g = mobile_block(1);
  const ops::ConvWork work = ops::conv_work(g);
  // expand 32*12*12 * 16, depthwise 32*12*12 * 9; project 16*12*12 * 32*9.
  CHECK(work.pointwise_or_grouped == doctest::Approx(32 * 144 * 16 + 32 * 144 * 9));
  CHECK(work.other == doctest::Approx(16 * 144 * 32 * 9));
  CHECK(work.channel_movers == 0);
  CHECK(work.concat_floats == 0);
}

TEST_CASE("conv_work counts the floats channel concats write per image") {
  // A fire module (SqueezeNet): x [N, 16, 12, 12] -> 1x1 and 3x3 convs to 8
  // channels each, joined: 16 * 144 floats.
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, 16, 12, 12});
  std::vector<ir::Value*> branches;
  for (int64_t k : {1, 3}) {
    const std::string name = "expand" + std::to_string(k);
    branches.push_back(g.add_node(name, "conv2d",
                                  {x, g.add_param(name + ".w", random_tensor({8, 16, k, k}, 5 + k)),
                                   g.add_param(name + ".b", random_tensor({8}, 7 + k))},
                                  {{"padding", std::vector<int64_t>{k / 2, k / 2}}})
                           ->output);
  }
  g.set_outputs({g.add_node("cat", "concat", branches, {{"axis", int64_t{1}}})->output});
  ir::infer_shapes(g, ops::registry().schemas());
  const ops::ConvWork work = ops::conv_work(g);
  CHECK(work.concat_floats == doctest::Approx(16 * 144));
  CHECK(work.pointwise_or_grouped == doctest::Approx(8 * 144 * 16));
  CHECK(work.other == doctest::Approx(8 * 144 * 16 * 9));
}

TEST_CASE("convs_blocked: any never, blocked with AVX2, auto on AVX-512 from a batch of 6 where 1x1 and grouped convs lead and nothing shuffles") {
  const ops::ConvWork pointwise{3, 1, 0}, even{1, 1, 0}, dense{1, 3, 0}, none{0, 0, 0};
  const ops::ConvWork shuffled{3, 1, 1};
  const int64_t B = ops::kBlockedConvsFromBatch;
  CHECK(B == 6);
  const bool avx512 = ops::vector_width() == 16;
  CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::any, 10, pointwise));
  CHECK(ops::convs_blocked(ops::ConvLayout::blocked, 1, dense) == (ops::vector_width() > 0));
  CHECK(ops::convs_blocked(ops::ConvLayout::auto_, B, pointwise) == avx512);
  CHECK(ops::convs_blocked(ops::ConvLayout::auto_, B, even) == avx512);
  CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, B - 1, pointwise));
  CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, B, dense));
  CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, B, none));
  CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, B, shuffled));
  CHECK(ops::convs_blocked(ops::ConvLayout::blocked, B, shuffled) == (ops::vector_width() > 0));
}

TEST_CASE("convs_blocked: auto on AVX-512 at any batch where concats write much per multiply-add") {
  const double per_mac = ops::kBlockedConcatFloatsPerMac;
  // 1000 multiply-adds, mostly in 3x3 convs: the pointwise rule never holds.
  const ops::ConvWork heavy{100, 900, 0, 1000 * per_mac}, light{100, 900, 0, 999 * per_mac};
  const ops::ConvWork shuffled{100, 900, 1, 1000 * per_mac};
  const bool avx512 = ops::vector_width() == 16;
  for (int64_t batch : {1, 2, 10}) {
    CAPTURE(batch);
    CHECK(ops::convs_blocked(ops::ConvLayout::auto_, batch, heavy) == avx512);
    CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, batch, light));
    CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, batch, shuffled));
    CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::any, batch, heavy));
  }
}

TEST_CASE("conv_work counts the floats in and out of grouped convs that do not fit nChw16c") {
  // x [N, 32, 10, 10] -> 3x3 convs of 8 channels a group (misfit), 16 a
  // group and 1 a group (depthwise), each 32 -> 32 channels.
  ir::Graph g;
  ir::Value* y = g.add_input("x", {ir::kBatch, 32, 10, 10});
  for (int64_t groups : {4, 2, 32}) {
    const std::string name = "g" + std::to_string(groups);
    y = g.add_node(name, "conv2d",
                   {y, g.add_param(name + ".w", random_tensor({32, 32 / groups, 3, 3}, 3))},
                   {{"padding", std::vector<int64_t>{1, 1}}, {"groups", groups}})
            ->output;
  }
  g.set_outputs({y});
  ir::infer_shapes(g, ops::registry().schemas());
  const ops::ConvWork work = ops::conv_work(g);
  CHECK(work.misfit_floats == doctest::Approx(2 * 32 * 100));  // g4's input and output
  CHECK(work.pointwise_or_grouped == doctest::Approx(32 * 100 * 9 * (8 + 16 + 1)));
}

TEST_CASE("convs_blocked: auto never where grouped convs that do not fit nChw16c move much per multiply-add") {
  const double per_mac = ops::kBlockedMisfitFloatsPerMac;
  // 1000 multiply-adds, led by 1x1 and grouped convs: blocked from batch 6
  // without misfits.
  const ops::ConvWork heavy{900, 100, 0, 0, 1000 * per_mac};
  const ops::ConvWork light{900, 100, 0, 0, 999 * per_mac};
  // Concat-heavy too: the misfits still decide.
  const ops::ConvWork concats{900, 100, 0, 1000 * ops::kBlockedConcatFloatsPerMac,
                              1000 * per_mac};
  const bool avx512 = ops::vector_width() == 16;
  const int64_t B = ops::kBlockedConvsFromBatch;
  for (int64_t batch : {B, int64_t{10}}) {
    CAPTURE(batch);
    CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, batch, heavy));
    CHECK(ops::convs_blocked(ops::ConvLayout::auto_, batch, light) == avx512);
    CHECK_FALSE(ops::convs_blocked(ops::ConvLayout::auto_, batch, concats));
    CHECK(ops::convs_blocked(ops::ConvLayout::blocked, batch, heavy) == (ops::vector_width() > 0));
  }
}

TEST_CASE("convs asked for the blocked layout write it, and compute what the reference does") {
  const ir::Graph g = mobile_block(7);
  const ir::Tensor x = random_tensor({2, 16, 12, 12}, 3);
  const RefTensor want = reference(g, x);
  for (ops::ConvLayout layout : {ops::ConvLayout::any, ops::ConvLayout::blocked}) {
    INFO(ops::conv_layout_name(layout));
    for (ops::ConvAlgo algo : {ops::ConvAlgo::direct, ops::ConvAlgo::auto_}) {
      INFO(ops::conv_algo_name(algo));
      engine::CompileOptions options;
      options.conv_algo = algo;
      options.conv_layout = layout;
      engine::Plan plan = engine::compile(g, 2, options);
      CHECK(plan.blocked_convs() == ops::convs_blocked(layout, 2, ops::conv_work(g)));
      engine::Context ctx(plan);
      check_close(ctx.run({x})[0], want, 1e-5);
    }
  }

  // Each conv's kernel writes the blocked layout when asked (where the CPU has one).
  if (skip_without_avx2("a blocked layout")) return;
  const dnnl::memory::format_tag tag = ops::blocked_conv_tag();
  const ir::Graph bound = mobile_block(7, 2);
  for (const std::string name : {"expand", "depthwise", "project"}) {
    INFO(name);
    const ir::Node& node = *bound.find_node(name);
    const ir::Shape& xs = node.inputs[0]->shape;
    ops::CompileContext ctx{ops::cpu_engine(), {ops::plain_desc(xs)}, {false},
                            ops::ConvAlgo::direct};
    ctx.blocked_convs = true;
    std::unique_ptr<ops::Kernel> kernel = ops::registry().find("conv2d")->compile(node, ctx);
    const ir::Shape& ys = node.output->shape;
    CHECK(kernel->output_desc() ==
          dnnl::memory::desc(ops::to_dims(ys), dnnl::memory::data_type::f32, tag));
    CHECK(kernel->input_desc(0) ==
          dnnl::memory::desc(ops::to_dims(xs), dnnl::memory::data_type::f32, tag));
  }
}
