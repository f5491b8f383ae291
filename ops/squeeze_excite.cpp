// squeeze_excite: a squeeze-and-excitation block (Hu et al., 2018) as one
// kernel, as MobileNetV3, EfficientNet and RegNetY gate their channels.
//
//   a = input_activation(x)
//   p[n, c] = mean over h, w of a[n, c, h, w]                        (squeeze)
//   s[n, j] = squeeze_activation(b1[j] + sum_c w1[j, c] * p[n, c])
//   g[n, c] = gate_activation(b2[c] + sum_j w2[c, j] * s[n, j])      (excite)
//   y[n, c, h, w] = a[n, c, h, w] * g[n, c]
//
// inputs   x   activation [N, C, H, W]
//          w1  parameter [S, C, 1, 1]   b1  parameter [S]
//          w2  parameter [C, S, 1, 1]   b2  parameter [C]
// output   y   [N, C, H, W]
// attrs    input_activation, squeeze_activation, gate_activation: an activation's
//          name (ops/activation.h) or "none" (default), each with its attributes as
//          input_activation_<attr>, squeeze_activation_<attr>, gate_activation_<attr>
//
// fuse_squeeze_excite (passes/) makes it at --fuse=all from global_avg_pool2d
// -> conv2d 1x1 -> conv2d 1x1 -> mul, taking in the activation before it
// (EfficientNet's silu after each depthwise conv) as input_activation. Apart,
// that is five or six steps per block (the activation, pool, two 1x1 convs
// on a [N, C, 1, 1] vector, the gate's multiply), each a thread fork and
// join; at batch 1 most of them cost more to start than to run. Here it is
// one parallel region: the threads pool their share of x, compute the two
// small matrix-vector products (in 16-float vectors), one thread applies
// their activations (oneDNN's eltwise on the small vector, which runs
// single-threaded inside the region), then the threads scale their share
// of x. With an input activation, each thread first runs it (oneDNN's
// eltwise again, on its own stream) on about 64 KB of x at a time, into y,
// and pools that while it is in cache; the scale then reads y. Without one
// x is read twice and y written once; with one, x is read once and y
// written twice and read once, where a separate activation step would read
// and write the tensor once more. Everything runs in x's layout when that is
// nhwc, nchw, nChw8c or nChw16c (a last, partial block's padding is
// scaled by 0), else in nhwc; y may overwrite x.
#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/common.h"
#include "ops/loop_layout.h"
#include "ops/registry.h"
#include "ops/silu_loop.h"
#include "ops/vec.h"

namespace kiln::ops {

using dnnl::memory;

namespace {

const char* const kOuter[3] = {"input_", "squeeze_", "gate_"};

void validate(const ir::Node& node) {
  std::vector<std::string> known;
  for (const char* outer : kOuter) {
    const std::vector<std::string> names = post_op_activation_attr_names(outer);
    known.insert(known.end(), names.begin(), names.end());
  }
  ir::check_known_attrs(node, known);
  for (const char* outer : kOuter) post_op_activation_steps(node, outer);
  require_activation(node, 0, "x");
  require_nchw(node, 0, "x");
  const char* names[] = {"x", "w1", "b1", "w2", "b2"};
  for (size_t i = 1; i < 5; ++i) require_param(node, i, names[i]);
  const int64_t C = node.inputs[0]->shape[1];
  const ir::Shape& w1 = node.inputs[1]->shape;
  if (w1.size() != 4 || w1[0] < 1 || w1[1] != C || w1[2] != 1 || w1[3] != 1)
    throw Error(node.where(), "w1 '" + node.inputs[1]->name + "': expected shape [S, " +
                                  std::to_string(C) + ", 1, 1] (x has " + std::to_string(C) +
                                  " channels), got " + ir::shape_str(w1));
  const int64_t S = w1[0];
  require_shape(node, 2, "b1", {S});
  require_shape(node, 3, "w2", {C, S, 1, 1});
  require_shape(node, 4, "b2", {C});
}

ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

struct Geometry {
  int64_t N = 0, C = 0, HW = 0, S = 0;
  int block = kChannelsLast;
  // The loops' work units: pixels (channels last) or one image's channel blocks.
  int64_t units() const { return block == kChannelsLast ? N * HW : N * ((C + block - 1) / block); }
  int64_t unit_floats() const { return block == kChannelsLast ? C : HW * block; }
  // Units the input activation runs on at once, then pooled while in cache:
  // about 64 KB of pixels, or one channel block.
  int64_t tile_units() const {
    return block == kChannelsLast ? std::max<int64_t>(1, 16384 / C) : 1;
  }
};

// The scratchpad: p [N, C], s [N, S], g [N, C], then per thread a partial
// sum [N, C] (channels-last pooling, where threads split the pixels).
struct Scratch {
  float* p;
  float* s;
  float* g;
  float* partials;
};

// The pooling sums of work units [begin, end). Channels last, a unit is a
// pixel, summed into `out`, the thread's partial [N, C]; blocked, a unit is
// one channel block of one image, its sums stored at out = p.
template <int B>
void pool_range(const Geometry& geo, const float* x, float* out, int64_t begin, int64_t end) {
  if constexpr (B == kChannelsLast) {
    const int64_t C = geo.C;
    // Four pixels of one image per pass over acc: a sum carried through
    // memory pixel by pixel waits on its own store (1.3x the time at batch 10).
    int64_t p = begin;
    while (p < end) {
      float* __restrict acc = out + p / geo.HW * C;
      const float* __restrict x0 = x + p * C;
      if (p + 4 <= std::min(end, (p / geo.HW + 1) * geo.HW)) {
        for (int64_t c = 0; c < C; ++c) acc[c] += (x0[c] + x0[C + c]) + (x0[2 * C + c] + x0[3 * C + c]);
        p += 4;
      } else {
        for (int64_t c = 0; c < C; ++c) acc[c] += x0[c];
        p += 1;
      }
    }
  } else {
    // Unit u is block ob of image n; the last block of a C that is not a
    // multiple of B holds padding, whose sums are not kept.
    const int64_t run = geo.HW * B, CB = (geo.C + B - 1) / B;
    for (int64_t u = begin; u < end; ++u) {
      Vec<B> acc = {}, v;
      const float* xu = x + u * run;
      for (int64_t i = 0; i < run; i += B) {
        load<B>(v, xu + i);
        acc += v;
      }
      const int64_t n = u / CB, c0 = u % CB * B, valid = std::min<int64_t>(B, geo.C - c0);
      float sums[B];
      store<B>(sums, acc);
      std::copy(sums, sums + valid, out + n * geo.C + c0);
    }
  }
}

// y = x * g over the threads' share t of T.
template <int B>
void scale_share(const Geometry& geo, const float* x, const float* g, float* y, int64_t t,
                 int64_t T) {
  if constexpr (B == kChannelsLast) {
    const int64_t P = geo.N * geo.HW, C = geo.C;
    for (int64_t p = P * t / T; p < P * (t + 1) / T; ++p) {
      const float* __restrict gp = g + p / geo.HW * C;
      const float* __restrict xp = x + p * C;
      float* __restrict yp = y + p * C;
      for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] * gp[c];
    }
  } else {
    const int64_t CB = (geo.C + B - 1) / B, units = geo.N * CB, run = geo.HW * B;
    for (int64_t u = units * t / T; u < units * (t + 1) / T; ++u) {
      // The gate of block ob of image n; 0 for the padding of a last, partial block.
      const int64_t n = u / CB, c0 = u % CB * B, valid = std::min<int64_t>(B, geo.C - c0);
      float gate[B] = {};
      std::copy(g + n * geo.C + c0, g + n * geo.C + c0 + valid, gate);
      Vec<B> gv, v;
      load<B>(gv, gate);
      for (int64_t i = u * run; i < (u + 1) * run; i += B) {
        load<B>(v, x + i);
        v *= gv;
        store<B>(y + i, v);
      }
    }
  }
}

// a . b over n floats, in 16-float vectors (the order of a vector
// reduction: float addition left to the compiler would stay scalar).
inline float dot(const float* a, const float* b, int64_t n) {
  Vec<16> acc = {}, va, vb;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    load<16>(va, a + i);
    load<16>(vb, b + i);
    acc += va * vb;
  }
  float sum = 0.f;
  for (int k = 0; k < 16; ++k) sum += acc[k];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// out[r] = bias[r % rows] + w[r % rows, :] . in[r / rows, :] for rows r in
// the threads' share t of T of n * rows: one of the block's two
// matrix-vector products, for every image, before its activation.
struct MatVec {
  const float* w;
  const float* bias;
  int64_t rows, cols;
};

void matvec_share(const MatVec& m, int64_t n, const float* in, float* out, int64_t t, int64_t T) {
  for (int64_t r = n * m.rows * t / T; r < n * m.rows * (t + 1) / T; ++r) {
    const int64_t image = r / m.rows, row = r % m.rows;
    out[r] = dot(m.w + row * m.cols, in + image * m.cols, m.cols) + m.bias[row];
  }
}

// An activation's steps as oneDNN eltwise primitives on n floats: the first
// from src to dst, the others in place on dst.
struct Activation {
  Activation(const std::vector<EltwiseStep>& steps, int64_t n, const dnnl::engine& engine)
      : desc({n}, memory::data_type::f32, memory::format_tag::a) {
    for (const EltwiseStep& s : steps) {
      dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, s.alg, desc, s.alpha,
                                    s.beta);
      primitives.emplace_back(dnnl::eltwise_forward::primitive_desc(d, make_attr(), engine));
    }
  }
  // Called by a thread inside the kernel's parallel region, where oneDNN
  // runs single-threaded, on that thread's own stream.
  void run(dnnl::stream& stream, const memory& src, const memory& dst) const {
    for (size_t i = 0; i < primitives.size(); ++i)
      primitives[i].execute(stream, {{DNNL_ARG_SRC, i == 0 ? src : dst}, {DNNL_ARG_DST, dst}});
  }
  bool empty() const { return primitives.empty(); }
  memory::desc desc;
  std::vector<dnnl::eltwise_forward> primitives;
};

using PoolFn = void (*)(const Geometry&, const float*, float*, int64_t, int64_t);
using ScaleFn = void (*)(const Geometry&, const float*, const float*, float*, int64_t, int64_t);
using MatVecFn = void (*)(const MatVec&, int64_t, const float*, float*, int64_t, int64_t);

template <int B>
std::pair<PoolFn, ScaleFn> loops_for(int64_t width) {
  return {PerIsa<pool_range<B>>::select(width), PerIsa<scale_share<B>>::select(width)};
}

std::pair<PoolFn, ScaleFn> loops_for(int block, int64_t width) {
  switch (block) {
    case 1: return loops_for<1>(width);
    case 8: return loops_for<8>(width);
    case 16: return loops_for<16>(width);
    default: return loops_for<kChannelsLast>(width);
  }
}

class SqueezeExciteKernel : public Kernel {
 public:
  // `input`: the input activation's steps; `input_silu`: Kiln's loop for
  // them when they are a silu (then no oneDNN primitive is built for them).
  SqueezeExciteKernel(Geometry geo, memory::desc layout, const ir::Node& node, int threads,
                      std::string name, const std::vector<EltwiseStep>& input, SiluLoop input_silu)
      : geo_(geo), layout_(std::move(layout)), threads_(threads), name_(std::move(name)),
        w1_(node.inputs[1]->data->data), b1_(node.inputs[2]->data->data),
        w2_(node.inputs[3]->data->data), b2_(node.inputs[4]->data->data),
        input_tile_(input_silu ? std::vector<EltwiseStep>{} : input,
                    geo.tile_units() * geo.unit_floats(), cpu_engine()),
        input_unit_(input_silu ? std::vector<EltwiseStep>{} : input, geo.unit_floats(),
                    cpu_engine()),
        squeeze_(post_op_activation_steps(node, kOuter[1]), geo.N * geo.S, cpu_engine()),
        gate_(post_op_activation_steps(node, kOuter[2]), geo.N * geo.C, cpu_engine()),
        has_input_(!input.empty()), input_silu_(input_silu) {
    std::tie(pool_, scale_) = loops_for(geo_.block, vector_width());
    matvec_ = PerIsa<matvec_share>::select(vector_width());
  }

  memory::desc input_desc(size_t) const override { return layout_; }
  memory::desc output_desc() const override { return layout_; }
  memory::desc scratchpad_desc() const override {
    const int64_t floats = geo_.N * (2 * geo_.C + geo_.S) + threads_ * geo_.N * geo_.C;
    return memory::desc({floats}, memory::data_type::f32, memory::format_tag::a);
  }
  // y[i] is written after every thread has read all of x for the pooling,
  // and from x[i] alone.
  bool can_overwrite_input(size_t i) const override { return i == 0; }

  // The squeezed vector s and the gate g, in the scratchpad, as memories for
  // the activations' primitives.
  static constexpr int kSqueezed = DNNL_ARG_SRC_1, kGate = DNNL_ARG_SRC_2;

  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory& scratchpad) const override {
    float* base = static_cast<float*>(scratchpad.get_data_handle());
    const memory::dims offsets = {geo_.N * geo_.C, geo_.N * (geo_.C + geo_.S)};
    return {{DNNL_ARG_SRC, inputs.at(0)}, {DNNL_ARG_DST, output},
            {DNNL_ARG_SCRATCHPAD, scratchpad},
            {kSqueezed, memory(squeeze_.desc, scratchpad.get_engine(), base + offsets[0])},
            {kGate, memory(gate_.desc, scratchpad.get_engine(), base + offsets[1])}};
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    stream.wait();  // the steps before have written x
    const float* x = static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle());
    float* y = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
    float* scratch = static_cast<float*>(args.at(DNNL_ARG_SCRATCHPAD).get_data_handle());
    const int64_t N = geo_.N, C = geo_.C, S = geo_.S;
    const Scratch sc = {scratch, scratch + N * C, scratch + N * (C + S), scratch + N * (2 * C + S)};
    // The partial sums hold threads_ slices: never run on more threads than that.
    const int threads = std::min(omp_get_max_threads(), threads_);
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t units = geo_.units(), begin = units * t / T, end = units * (t + 1) / T;
      float* sums = geo_.block == kChannelsLast ? sc.partials + t * N * C : sc.p;
      if (geo_.block == kChannelsLast) std::fill(sums, sums + N * C, 0.f);
      const int64_t tile = geo_.tile_units(), floats = geo_.unit_floats();
      if (!has_input_) {
        pool_(geo_, x, sums, begin, end);
      } else if (input_silu_) {
        // y = silu(x) a tile at a time (Kiln's loop), pooled while in cache.
        for (int64_t first = begin; first < end; first += tile) {
          const int64_t last = std::min(end, first + tile);
          input_silu_(x + first * floats, y + first * floats, (last - first) * floats);
          pool_(geo_, y, sums, first, last);
        }
      } else {
        // The same with oneDNN's eltwise, on the thread's own stream.
        dnnl::stream local(cpu_engine());
        memory src(input_tile_.desc, cpu_engine(), nullptr), dst(input_tile_.desc, cpu_engine(), nullptr);
        memory src1(input_unit_.desc, cpu_engine(), nullptr), dst1(input_unit_.desc, cpu_engine(), nullptr);
        for (int64_t first = begin; first < end; first += tile) {
          const int64_t last = std::min(end, first + tile);
          if (last - first == tile) {
            src.set_data_handle(const_cast<float*>(x) + first * floats);
            dst.set_data_handle(y + first * floats);
            input_tile_.run(local, src, dst);
          } else {
            for (int64_t u = first; u < last; ++u) {  // the share's last, partial tile
              src1.set_data_handle(const_cast<float*>(x) + u * floats);
              dst1.set_data_handle(y + u * floats);
              input_unit_.run(local, src1, dst1);
            }
          }
          pool_(geo_, y, sums, first, last);
        }
      }
#pragma omp barrier
      const float inv_hw = 1.f / static_cast<float>(geo_.HW);
      for (int64_t i = N * C * t / T; i < N * C * (t + 1) / T; ++i) {
        float sum = 0.f;
        if (geo_.block == kChannelsLast)
          for (int64_t k = 0; k < T; ++k) sum += sc.partials[k * N * C + i];
        else
          sum = sc.p[i];
        sc.p[i] = sum * inv_hw;
      }
#pragma omp barrier
      matvec_({w1_.data(), b1_.data(), S, C}, N, sc.p, sc.s, t, T);
#pragma omp barrier
#pragma omp single
      squeeze_.run(stream, args.at(kSqueezed), args.at(kSqueezed));
      matvec_({w2_.data(), b2_.data(), C, S}, N, sc.s, sc.g, t, T);
#pragma omp barrier
#pragma omp single
      gate_.run(stream, args.at(kGate), args.at(kGate));
      scale_(geo_, has_input_ ? y : x, sc.g, y, t, T);
    }
  }

  std::string implementation() const override { return name_; }

 private:
  Geometry geo_;
  memory::desc layout_;
  int threads_;
  std::string name_;
  ir::TensorData w1_, b1_, w2_, b2_;
  Activation input_tile_, input_unit_, squeeze_, gate_;
  PoolFn pool_ = nullptr;
  ScaleFn scale_ = nullptr;
  MatVecFn matvec_ = nullptr;
  bool has_input_;       // an input_activation runs before the pooling
  SiluLoop input_silu_;  // it is a silu, and Kiln's loop for it exists here
};

std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  Geometry geo;
  geo.N = x[0], geo.C = x[1], geo.HW = x[2] * x[3], geo.S = node.inputs[1]->shape[0];
  const int block = loop_block_of(ctx.input_descs.at(0));
  geo.block = block >= 0 ? block : kChannelsLast;
  const LoopLayout& layout = loop_layout(geo.block);
  const std::string name = std::string("kiln:") + vector_isa_name() + ":" + layout.name;
  const std::vector<EltwiseStep> input = post_op_activation_steps(node, kOuter[0]);
  const bool silu = input.size() == 1 && input[0].alg == dnnl::algorithm::eltwise_swish &&
                    input[0].alpha == 1.f;
  return std::make_unique<SqueezeExciteKernel>(
      geo, memory::desc(to_dims(x), memory::data_type::f32, layout.tag), node,
      std::max(1, omp_get_max_threads()), name, input, silu ? silu_loop() : nullptr);
}

}  // namespace

void register_squeeze_excite(Registry& r) {
  r.add({"squeeze_excite", {5, 5, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
