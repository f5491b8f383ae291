#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/isa.h"
#include "tests/ops/reference.h"
#include "tests/passes/fold_support.h"

using namespace kiln;
using namespace kiln::test;

using tag = dnnl::memory::format_tag;

namespace {

struct Case {
  std::vector<int64_t> channels;  // C_k of each input
  std::vector<tag> given;         // the layout each input arrives in
  tag expected;                   // the layout the kernel reads and writes
};

// concat_batchnorm of inputs [2, C_k, 5, 7] arriving in `c.given`, against
// batchnorm(concat(...)) and the activation in double.
void check_case(const Case& c, bool affine, const ir::Attrs& attrs, uint64_t seed) {
  const ir::Shape hw = {5, 7};
  std::vector<NodeInput> inputs;
  std::vector<RefTensor> refs;
  std::vector<dnnl::memory::desc> given;
  int64_t C = 0;
  for (size_t k = 0; k < c.channels.size(); ++k) {
    const ir::Shape shape = {2, c.channels[k], hw[0], hw[1]};
    // Spread over [-3, 3] so that relu and leaky_relu see both signs after the affine map.
    ir::Tensor x = random_tensor(shape, seed + k, -3, 3);
    refs.push_back(to_ref(x));
    inputs.push_back(activation(x));
    given.push_back(layout(shape, c.given[k]));
    C += c.channels[k];
  }
  Rng rng(seed + 100);
  const BnParams p = random_bn(C, rng);
  for (const ir::Tensor& t : {p.mean, p.var}) inputs.push_back(parameter(t));
  if (affine)
    for (const ir::Tensor& t : {p.gamma, p.beta}) inputs.push_back(parameter(t));
  const KernelRun run = run_kernel("concat_batchnorm", inputs, given, attrs);

  for (size_t k = 0; k < c.channels.size(); ++k)
    CHECK(run.asked[k] == layout({2, c.channels[k], hw[0], hw[1]}, c.expected));
  CHECK(run.output == layout({2, C, hw[0], hw[1]}, c.expected));
  RefTensor g = to_ref(p.gamma), b = to_ref(p.beta);
  const double eps = attrs.count("eps") ? std::get<double>(attrs.at("eps")) : 1e-5;
  RefTensor want = ref_batchnorm(ref_concat(refs, 1), to_ref(p.mean), to_ref(p.var),
                                 affine ? &g : nullptr, affine ? &b : nullptr, eps);
  if (attrs.count("activation")) {
    ir::Attrs act;
    if (attrs.count("activation_negative_slope"))
      act["negative_slope"] = attrs.at("activation_negative_slope");
    want = ref_activation(std::get<std::string>(attrs.at("activation")), want, act);
  }
  check_close(run.y, want, 1e-6);
}

}  // namespace

TEST_CASE("concat_batchnorm matches batchnorm(concat) in every layout it reads") {
  const Case cases[] = {
      // Blocked inputs whose channels fill whole blocks stay blocked.
      {{32, 16, 48}, {tag::nChw16c, tag::nChw16c, tag::nChw16c}, tag::nChw16c},
      {{8, 24}, {tag::nChw8c, tag::nChw8c}, tag::nChw8c},
      {{16, 32}, {tag::nChw8c, tag::nChw8c}, tag::nChw8c},
      // A block would straddle two inputs: channels last instead.
      {{20, 12}, {tag::nChw16c, tag::nChw16c}, tag::nhwc},
      {{3, 5, 7}, {tag::nhwc, tag::nhwc, tag::nhwc}, tag::nhwc},
      {{3, 5}, {tag::nchw, tag::nchw}, tag::nchw},
      // Mixed: the input with the most channels decides, the others are reordered.
      {{16, 64, 32}, {tag::nhwc, tag::nChw16c, tag::nChw8c}, tag::nChw16c},
      {{64, 16}, {tag::nhwc, tag::nChw16c}, tag::nhwc},
      // One input: batchnorm alone.
      {{24}, {tag::nChw8c}, tag::nChw8c},
  };
  uint64_t seed = 900;
  for (const Case& c : cases) {
    for (bool affine : {true, false}) {
      CAPTURE(c.channels.size());
      CAPTURE(c.channels[0]);
      CAPTURE(static_cast<int>(c.given[0]));
      CAPTURE(affine);
      check_case(c, affine, {{"eps", 1e-3}}, seed += 10);
    }
  }
}

TEST_CASE("concat_batchnorm applies relu and leaky_relu") {
  const Case nhwc = {{3, 5, 7}, {tag::nhwc, tag::nhwc, tag::nhwc}, tag::nhwc};
  const Case blocked = {{16, 32}, {tag::nChw16c, tag::nChw16c}, tag::nChw16c};
  const Case plain = {{3, 5}, {tag::nchw, tag::nchw}, tag::nchw};
  const ir::Attrs relu = {{"activation", std::string("relu")}};
  const ir::Attrs leaky = {{"activation", std::string("leaky_relu")},
                           {"activation_negative_slope", 0.2}};
  uint64_t seed = 1000;
  for (const Case* c : {&nhwc, &blocked, &plain}) {
    for (const ir::Attrs* attrs : {&relu, &leaky}) {
      CAPTURE(static_cast<int>(c->expected));
      CAPTURE(std::get<std::string>(attrs->at("activation")));
      check_case(*c, true, *attrs, seed += 10);
    }
  }
}

TEST_CASE("concat_batchnorm runs the loop compiled for this CPU's vectors") {
  // Run again under ONEDNN_MAX_CPU_ISA=AVX2 and SSE41 (tests/CMakeLists.txt),
  // which must pick the AVX2 and the baseline loop.
  const std::string isa = kiln_loop_isa();
  const ir::Shape shape = {2, 16, 5, 7};
  Rng rng(77);
  const BnParams p = random_bn(32, rng);
  const KernelRun run = run_kernel(
      "concat_batchnorm",
      {activation(random_tensor(shape, 1)), activation(random_tensor(shape, 2)),
       parameter(p.mean), parameter(p.var)},
      {layout(shape, tag::nChw16c), layout(shape, tag::nChw16c)});
  CHECK(run.implementation == "kiln:" + isa + ":nChw16c");
}

TEST_CASE("concat_batchnorm rejects bad inputs with a message naming them") {
  const ir::Shape x = {2, 3, 5, 7};
  CHECK(validate_error("concat_batchnorm", {x, {2, 4, 5, 6}}, {{7}, {7}}) ==
        "node 'node' (concat_batchnorm): inputs must have equal shapes except along dim 1, got "
        "'x0' [N, 3, 5, 7] and 'x1' [N, 4, 5, 6]");
  CHECK(validate_error("concat_batchnorm", {x, {2, 4, 5, 7}}, {{7}, {8}}) ==
        "node 'node' (concat_batchnorm): running_var 'p1': expected shape [7] (the inputs have 7 "
        "channels), got [8]");
  CHECK(validate_error("concat_batchnorm", {x, x}, {{6}, {6}, {6}}) ==
        "node 'node' (concat_batchnorm): expected weight and bias both or neither, got 5 inputs");
  CHECK(validate_error("concat_batchnorm", {x, {2, 3, 5}}, {{6}, {6}}) ==
        "node 'node' (concat_batchnorm): input 1 'x1': expected rank 4, got shape [N, 3, 5]");
  CHECK(validate_error("concat_batchnorm", {x, x}, {{6}, {6}},
                       {{"activation", std::string("silu")}}) ==
        "node 'node' (concat_batchnorm): attribute 'activation': concat_batchnorm applies only "
        "\"relu\" or \"leaky_relu\" as a post-op, got \"silu\"");
}
