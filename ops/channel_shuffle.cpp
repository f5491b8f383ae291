// channel_shuffle: ShuffleNet's channel shuffle of a channel concat, as
// x.view(N, G, C/G, H, W).transpose(1, 2).reshape(N, C, H, W) with
// x = torch.cat([x_0, x_1, ...], 1).
//
//   y[n, j * G + g, h, w] = x[n, g * (C/G) + j, h, w]    g < G, j < C/G
//
// inputs   x_0, x_1, ...  1 or more activations [N, C_k, H, W], equal N, H and W
// output   y              [N, C, H, W], C = C_0 + C_1 + ...
// attrs    groups  G  int >= 1, divides C; required
//
// fuse_channel_shuffle (passes/) makes it at --fuse=all from the reshape ->
// permute -> reshape that torchvision's ShuffleNet (and its ONNX export)
// spells a shuffle with, taking in the concat before it. Separate, the
// concat, the permute and the reshape back each copied the tensor, and the
// permute read oneDNN's strides of a rank-5 view (bench/README).
//
// Kiln's own loop, one pass over the data, in the layout the widest input
// arrives in (the engine reorders the others), y written in it too: in nhwc
// each pixel's channels are gathered, reading each input row in order; in
// nchw, nChw8c or nChw16c (partial blocks allowed, as oneDNN's convs write
// ShuffleNet's 58 channels) each output channel's plane is one input
// channel's, copied. Any other layout is read in nhwc.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/join_loop.h"
#include "ops/loop_layout.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

namespace {

int64_t total_channels(const ir::Node& node) {
  int64_t C = 0;
  for (const ir::Value* in : node.inputs) C += in->shape[1];
  return C;
}

void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"groups"});
  if (!node.attrs.count("groups")) throw Error(node.where(), "attribute 'groups' is required");
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    require_activation(node, k, "input " + std::to_string(k));
    require_nchw(node, k, "input " + std::to_string(k));
  }
  require_joinable(node, node.inputs.size(), 1);
  const int64_t G = ir::attr_int(node, "groups", 1), C = total_channels(node);
  if (G < 1 || C % G != 0)
    throw Error(node.where(), "attribute 'groups': expected a positive divisor of the " +
                                  std::to_string(C) + " channels, got " + std::to_string(G));
}

ir::Shape infer_shape(const ir::Node& node) {
  ir::Shape y = node.inputs[0]->shape;
  y[1] = total_channels(node);
  return y;
}

// Where output channel c' comes from: input `input`, its channel `channel`.
struct Source {
  int32_t input, channel;
};

// A run of one input's channels [channel, channel + count) that lands on
// output channels first, first + G, first + 2G, ...
struct Segment {
  int32_t input, channel, count, first;
};

struct Geometry {
  int64_t N = 0, HW = 0, C = 0, G = 1;
  int block = kChannelsLast;      // of every input and the output (ops/loop_layout.h)
  std::vector<int64_t> channels;  // C_k
  std::vector<Source> source;     // per output channel (planar layouts)
  std::vector<Segment> segments;  // nhwc
};

// Channels rounded up to whole blocks: what one image holds in a blocked layout.
inline int64_t padded(int64_t channels, int block) {
  return block <= 1 ? channels : (channels + block - 1) / block * block;
}

void plan(Geometry& g) {
  const int64_t Cg = g.C / g.G;
  g.source.assign(static_cast<size_t>(g.C), {});
  int64_t c = 0;  // the concat's channel: group c / Cg, index c % Cg in it
  for (size_t k = 0; k < g.channels.size(); ++k) {
    for (int64_t j = 0; j < g.channels[k]; ++j, ++c) {
      const int64_t out = (c % Cg) * g.G + c / Cg;
      g.source[static_cast<size_t>(out)] = {static_cast<int32_t>(k), static_cast<int32_t>(j)};
      // A new segment where the input or the group changes.
      if (j == 0 || c % Cg == 0)
        g.segments.push_back({static_cast<int32_t>(k), static_cast<int32_t>(j), 0,
                              static_cast<int32_t>(out)});
      ++g.segments.back().count;
    }
  }
}

// Output channels first, first + G, ... of pixel row y from the contiguous x.
template <int G>
inline void spread(const float* __restrict x, float* __restrict y, int64_t count, int64_t g) {
  const int64_t stride = G > 0 ? G : g;
  for (int64_t i = 0; i < count; ++i) y[i * stride] = x[i];
}

// nhwc: work units [begin, end) are pixels (n, h, w), each gathered in
// segments, reading each input row in order.
template <int G>
void run_pixels(const Geometry& g, const float* const* srcs, float* dst, int64_t begin,
                int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    float* y = dst + p * g.C;
    for (const Segment& s : g.segments) {
      const int64_t Ck = g.channels[static_cast<size_t>(s.input)];
      spread<G>(srcs[s.input] + p * Ck + s.channel, y + s.first, s.count, g.G);
    }
  }
}

// nchw, nChw8c, nChw16c (B = 1, 8, 16): work units [begin, end) are output
// channels (n, c'), padding included, each the whole plane of one input
// channel, B floats apart. The padding of a last partial block is written 0:
// oneDNN's blocked kernels multiply it by their own zero padding, and stale
// bytes there could be NaN.
template <int B>
void run_planes(const Geometry& g, const float* const* srcs, float* dst, int64_t begin,
                int64_t end) {
  const int64_t Cp = padded(g.C, B);
  for (int64_t unit = begin; unit < end; ++unit) {
    const int64_t n = unit / Cp, c = unit % Cp;
    float* __restrict y = dst + (n * Cp + c / B * B) * g.HW + c % B;
    if (c >= g.C) {
      for (int64_t i = 0; i < g.HW; ++i) y[i * B] = 0.f;
      continue;
    }
    const Source s = g.source[static_cast<size_t>(c)];
    const int64_t Ck = padded(g.channels[static_cast<size_t>(s.input)], B);
    const float* __restrict x = srcs[s.input] + (n * Ck + s.channel / B * B) * g.HW + s.channel % B;
    if constexpr (B == 1) {
      std::memcpy(y, x, static_cast<size_t>(g.HW) * sizeof(float));
    } else {
      for (int64_t i = 0; i < g.HW; ++i) y[i * B] = x[i * B];
    }
  }
}

using RunFn = void (*)(const Geometry&, const float* const*, float*, int64_t, int64_t);

RunFn run_for(const Geometry& g) {
  switch (g.block) {
    case 1: return run_planes<1>;
    case 8: return run_planes<8>;
    case 16: return run_planes<16>;
    // G = 2 (ShuffleNet's) compiled on its own: its strided stores vectorise.
    default: return g.G == 2 ? run_pixels<2> : run_pixels<0>;
  }
}

std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x0 = node.inputs[0]->shape;
  Geometry g;
  g.N = x0[0], g.HW = x0[2] * x0[3];
  for (const ir::Value* in : node.inputs) g.channels.push_back(in->shape[1]);
  g.C = total_channels(node);
  g.G = ir::attr_int(node, "groups", 1);
  plan(g);
  // The layout of the widest input as it arrives, where the loops read it.
  const size_t widest = static_cast<size_t>(
      std::max_element(g.channels.begin(), g.channels.end()) - g.channels.begin());
  const int block = loop_block_of(ctx.input_descs.at(widest));
  g.block = block < 0 ? kChannelsLast : block;

  std::vector<memory::desc> inputs = join_input_descs(node, node.inputs.size(), g.block);
  memory::desc output = join_output_desc(node, g.block);
  const RunFn run = run_for(g);
  const int64_t units = g.block == kChannelsLast ? g.N * g.HW : g.N * padded(g.C, g.block);
  const std::string name = std::string("kiln:") + loop_layout(g.block).name;
  return std::make_unique<JoinLoopOf<Geometry>>(std::move(g), run, std::move(inputs),
                                                std::move(output), units, name);
}

}  // namespace

void register_channel_shuffle(Registry& r) {
  r.add({"channel_shuffle", {1, kMaxConcatInputs, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
