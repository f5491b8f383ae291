// channel_shuffle: the concat's channels interleaved in groups, in nchw and
// nhwc, exactly (it only moves data), and its checks.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/ops/reference.h"

using namespace kiln;
using namespace kiln::test;
using tag = dnnl::memory::format_tag;

namespace {

// torch.cat(xs, 1).view(N, G, C/G, H, W).transpose(1, 2).reshape(N, C, H, W).
RefTensor ref_shuffle(const std::vector<RefTensor>& xs, int64_t G) {
  const RefTensor x = ref_concat(xs, 1);
  const ir::Shape& s = x.shape;
  RefTensor y = x;
  const int64_t C = s[1], Cg = C / G, HW = s[2] * s[3];
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < Cg; ++j)
        for (int64_t i = 0; i < HW; ++i)
          y.data[static_cast<size_t>((n * C + j * G + g) * HW + i)] =
              x.data[static_cast<size_t>((n * C + g * Cg + j) * HW + i)];
  return y;
}

void check_exact(const ir::Tensor& got, const RefTensor& want) {
  std::string report;
  CHECK_MESSAGE(count_mismatches(got, want, 0, report) == 0, report);
}

}  // namespace

TEST_CASE("channel_shuffle interleaves the joined channels in every group count, exactly") {
  struct Case {
    std::vector<ir::Shape> inputs;
    int64_t groups;
  };
  const std::vector<Case> cases = {
      {{{2, 6, 5, 7}, {2, 6, 5, 7}}, 2},     // ShuffleNetV2's join
      {{{2, 3, 5, 7}, {2, 9, 5, 7}}, 2},     // halves that straddle the inputs
      {{{1, 12, 4, 3}}, 3},                  // one input
      {{{2, 5, 3, 3}, {2, 4, 3, 3}, {2, 3, 3, 3}}, 4},
      {{{1, 58, 6, 6}, {1, 58, 6, 6}}, 1},  // one group: the concat itself
  };
  for (const Case& c : cases) {
    CAPTURE(c.groups);
    CAPTURE(c.inputs.size());
    std::vector<NodeInput> inputs;
    std::vector<RefTensor> refs;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      ir::Tensor t = random_tensor(c.inputs[k], 10 + k);
      refs.push_back(to_ref(t));
      inputs.push_back(activation(t));
    }
    const RefTensor want = ref_shuffle(refs, c.groups);
    check_exact(run_node("channel_shuffle", inputs, {{"groups", c.groups}}), want);
    // The inputs handed over in nchw, nhwc or oneDNN's blocks (partial ones
    // included): it reads them as given, another layout in nhwc, and writes
    // in what it reads.
    for (tag t : {tag::nchw, tag::nhwc, tag::nChw8c, tag::nChw16c, tag::nChw4c}) {
      CAPTURE(int(t));
      std::vector<dnnl::memory::desc> given;
      for (const ir::Shape& s : c.inputs) given.push_back(layout(s, t));
      const KernelRun run = run_kernel("channel_shuffle", inputs, given, {{"groups", c.groups}});
      const tag reads = t == tag::nChw4c ? tag::nhwc : t;
      for (size_t k = 0; k < c.inputs.size(); ++k) CHECK(run.asked[k] == layout(c.inputs[k], reads));
      CHECK(run.output == layout(want.shape, reads));
      check_exact(run.y, want);
      // Every float written, a partial block's padding as 0 (never NaN:
      // oneDNN's blocked kernels multiply it by their zero padding).
      size_t nans = 0;
      for (float v : run.written) nans += std::isnan(v) ? 1 : 0;
      CHECK(nans == 0);
    }
  }
}

TEST_CASE("channel_shuffle rejects a missing or non-dividing group count and unjoinable inputs") {
  CHECK(validate_error("channel_shuffle", {{2, 6, 5, 7}}, {}, {}) ==
        "node 'node' (channel_shuffle): attribute 'groups' is required");
  CHECK(validate_error("channel_shuffle", {{2, 6, 5, 7}}, {}, {{"groups", int64_t{4}}}) ==
        "node 'node' (channel_shuffle): attribute 'groups': expected a positive divisor of "
        "the 6 channels, got 4");
  CHECK(validate_error("channel_shuffle", {{2, 6, 5, 7}}, {}, {{"groups", int64_t{0}}}) ==
        "node 'node' (channel_shuffle): attribute 'groups': expected a positive divisor of "
        "the 6 channels, got 0");
  CHECK(validate_error("channel_shuffle", {{2, 6, 5, 7}, {2, 6, 5, 8}}, {},
                       {{"groups", int64_t{2}}})
            .find("inputs must have equal shapes except along dim 1") != std::string::npos);
  CHECK(validate_error("channel_shuffle", {{2, 6, 5, 7}}, {{6}}, {{"groups", int64_t{2}}})
            .find("input 1") != std::string::npos);
}
