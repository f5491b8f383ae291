// concat_batchnorm: a channel concat and the batchnorm that reads it, in one
// pass over the data, as batchnorm(concat([x_0, x_1, ...], axis 1)).
//
//   y[n, o_k + j, h, w] = act(x_k[n, j, h, w] * scale[o_k + j] + shift[o_k + j])
//   o_k = C_0 + ... + C_{k-1};  scale = weight / sqrt(running_var + eps),
//   shift = bias - running_mean * scale  (weight 1 and bias 0 when absent)
//
// inputs   x_0, x_1, ...  1 or more activations [N, C_k, H, W], equal N, H and W
//          running_mean   parameter [C], C = C_0 + C_1 + ...
//          running_var    parameter [C]
//          weight         parameter [C], optional (gamma)
//          bias           parameter [C], optional (beta); present exactly when weight is
// output   y              [N, C, H, W]
// attrs    eps, activation (and activation_negative_slope) as batchnorm's
//
// fuse_concat_batchnorm (passes/) makes it at --fuse=all: a DenseNet joins
// every earlier feature map before each layer's batchnorm + relu. Separate,
// oneDNN's concat copies the inputs and its batchnorm then reads and writes
// the copy again; here each element is read once and written once. Measured
// in a probe on Zen 4 (2 threads, nhwc): [10, 224, 56, 56] from six inputs
// 1.49 ms against 2.63 for concat then batchnorm in place, [1, 224, 56, 56]
// 56 us against 244 (bench/README).
//
// Kiln's own loop, not oneDNN: the inputs are read in the layout of the one
// with the most channels when it is nhwc, nchw, or nChw8c / nChw16c with every
// C_k a multiple of the block (so no input block straddles two of y's), and
// in nhwc otherwise; y is written in that layout. Like Kiln's Winograd
// (ops/vec.h), the loop is compiled for AVX-512, for AVX2 and for the
// baseline, and the one this CPU runs (and ONEDNN_MAX_CPU_ISA allows) is
// picked at compile time.
#include <string>
#include <vector>

#include "ir/error.h"
#include "ops/activation.h"
#include "ops/batchnorm.h"
#include "ops/common.h"
#include "ops/join_loop.h"
#include "ops/loop_layout.h"
#include "ops/registry.h"
#include "ops/vec.h"

namespace kiln::ops {

using dnnl::memory;

namespace {

// The activations come first, then 2 or 4 parameters: their count.
size_t activation_count(const ir::Node& node) {
  size_t k = 0;
  while (k < node.inputs.size() && !node.inputs[k]->is_param()) ++k;
  return k;
}

int64_t total_channels(const ir::Node& node, size_t activations) {
  int64_t C = 0;
  for (size_t k = 0; k < activations; ++k) C += node.inputs[k]->shape[1];
  return C;
}

void validate(const ir::Node& node) {
  const size_t K = activation_count(node);
  if (K == 0)
    throw Error(node.where(), "expected the activations to join first, got parameter '" +
                                  node.inputs[0]->name + "' as input 0");
  if (K > kMaxConcatInputs)
    throw Error(node.where(), "expected at most " + std::to_string(kMaxConcatInputs) +
                                  " activations to join, got " + std::to_string(K));
  for (size_t k = 0; k < K; ++k) require_nchw(node, k, "input " + std::to_string(k));
  require_joinable(node, K, 1);
  validate_batchnorm(node, K, total_channels(node, K));
}

ir::Shape infer_shape(const ir::Node& node) {
  ir::Shape y = node.inputs[0]->shape;
  y[1] = total_channels(node, activation_count(node));
  return y;
}

struct Geometry : JoinGeometry {
  std::vector<float> scale, shift;
  // y = max(v, 0) + lower * min(v, 0): 1 for no activation, 0 for relu,
  // the negative slope for leaky_relu. Exact: one of the two terms is 0.
  float lower = 1.f;
};

// max(v, 0) + lower * min(v, 0) (see Geometry::lower), in place, for a float
// or a Vec; NaN stays NaN as in PyTorch.
template <class T>
inline void activate(T& v, const T& zero, const T& lower) {
  v = (v < zero ? zero : v) + lower * (zero < v ? zero : v);
}

// Work units [begin, end): pixels (n, h, w) in channels-last layouts, y's
// channel blocks (n, block) otherwise.
template <int B>
inline void run_units(const Geometry& g, const float* const* srcs, float* dst, int64_t begin,
                      int64_t end) {
  const float zero = 0.f, lower = g.lower;
  if constexpr (B == kChannelsLast) {
    for (int64_t p = begin; p < end; ++p) {
      float* __restrict y = dst + p * g.C;
      for (size_t k = 0; k < g.channels.size(); ++k) {
        const int64_t Ck = g.channels[k], o = g.offsets[k];
        const float* __restrict x = srcs[k] + p * Ck;
        const float* __restrict s = g.scale.data() + o;
        const float* __restrict t = g.shift.data() + o;
        for (int64_t j = 0; j < Ck; ++j) {
          float v = x[j] * s[j] + t[j];
          activate(v, zero, lower);
          y[o + j] = v;
        }
      }
    }
  } else {
    const int64_t CB = g.C / B, run = g.HW * B;
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t n = unit / CB, ob = unit % CB;
      const size_t k = static_cast<size_t>(g.sources.input[ob]);
      const int64_t ib = g.sources.block_in_input[ob];
      const float* __restrict x = srcs[k] + (n * (g.channels[k] / B) + ib) * run;
      float* __restrict y = dst + unit * run;
      if constexpr (B == 1) {
        const float s = g.scale[ob], t = g.shift[ob];
        for (int64_t i = 0; i < run; ++i) {
          float v = x[i] * s + t;
          activate(v, zero, lower);
          y[i] = v;
        }
      } else {
        // One vector of B channels per pixel, its scale and shift loaded
        // once. Written out: left to itself the compiler vectorises across
        // pixels with shuffles, 3x slower on AVX2 (a probe, [1, 192, 56, 56]).
        Vec<B> s, t, v;
        load<B>(s, g.scale.data() + ob * B);
        load<B>(t, g.shift.data() + ob * B);
        const Vec<B> zeros = {}, lowers = zeros + lower;
        for (int64_t i = 0; i < run; i += B) {
          load<B>(v, x + i);
          v = v * s + t;
          activate(v, zeros, lowers);
          store<B>(y + i, v);
        }
      }
    }
  }
}

using RunFn = void (*)(const Geometry&, const float* const*, float*, int64_t, int64_t);

RunFn run_for(int block, int64_t width) {
  switch (block) {
    case 1: return PerIsa<run_units<1>>::select(width);
    case 8: return PerIsa<run_units<8>>::select(width);
    case 16: return PerIsa<run_units<16>>::select(width);
    default: return PerIsa<run_units<kChannelsLast>>::select(width);
  }
}

std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const size_t K = activation_count(node);
  Geometry g;
  static_cast<JoinGeometry&>(g) = join_geometry(node, K, ctx.input_descs);
  // The inputs' own layout where the loop reads it, else nhwc (see the top).
  if (g.block < 0) g.block = kChannelsLast;
  ChannelAffine affine = batchnorm_affine(node, K);
  g.scale = std::move(affine.scale);
  g.shift = std::move(affine.shift);
  const std::vector<EltwiseStep> steps = post_op_activation_steps(node);
  g.lower = steps.empty() ? 1.f : steps[0].alpha;  // relu's alpha is its negative slope

  const std::string name = std::string("kiln:") + vector_isa_name() + ":" + loop_layout(g.block).name;
  const RunFn run = run_for(g.block, vector_width());
  const int64_t units = g.units();
  std::vector<memory::desc> inputs = join_input_descs(node, K, g.block);
  memory::desc output = join_output_desc(node, g.block);
  return std::make_unique<JoinLoopOf<Geometry>>(std::move(g), run, std::move(inputs),
                                                std::move(output), units, name);
}

}  // namespace

void register_concat_batchnorm(Registry& r) {
  ir::OpSchema schema{3, kMaxConcatInputs + 4, validate, infer_shape};
  schema.takes_activations = batchnorm_activations();
  r.add({"concat_batchnorm", schema, compile});
}

}  // namespace kiln::ops
