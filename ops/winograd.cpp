// Winograd convolution F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015). Each 4x4 tile of the output comes
// from a 6x6 tile of the input with 36 multiplies per (input channel, output
// channel) pair instead of 144:
//
//   V = B^T d B       d: a 6x6 input tile of one channel (0 outside the input)
//   U = G g G^T       g: a 3x3 kernel of one channel pair; once, at compile time
//   M[e] = V[e] U[e]  for each of the 36 elements e: a GEMM over the channels
//   y = A^T M A       a 4x4 output tile, then + bias (+ residual), relu
//
//         | 4  0 -5  0  1  0 |        | 1/4    0     0   |
//         | 0 -4 -4  1  1  0 |        | -1/6 -1/6  -1/6  |        | 1  1  1  1  1  0 |
//   B^T = | 0  4 -4 -1  1  0 |    G = | -1/6  1/6  -1/6  |  A^T = | 0  1 -1  2 -2  0 |
//         | 0 -2 -1  2  1  0 |        | 1/24  1/12  1/6  |        | 0  1  1  4  4  0 |
//         | 0  2 -1 -2  1  0 |        | 1/24 -1/12  1/6  |        | 0  1 -1  8 -8  1 |
//         | 0  4  0 -5  0  1 |        |  0     0     1   |
//
// Layout: x and y stay in the layout oneDNN's direct convolution picks on this
// CPU (nChw8c with AVX2, nhwc or nChw16c with AVX-512), read and written as
// vectors of W = 8 or 16 contiguous channels. The work is split into items,
// a block of tiles (of T = N * ceil(OH/4) * ceil(OW/4)) times a range of
// output channels (plan_work), and each thread runs all three steps on one
// item at a time in its own slice of the scratchpad:
//   V[e][tile][C]                 the input transform, channels contiguous
//   M[tile][OC/W][e][W]           the GEMMs' output, a tile's 36 vectors together
// The GEMM is Kiln's own: U is packed once as U[e][OC/W][C][W], and a
// micro-kernel keeps 6 tiles x 2W output channels (AVX2: 12 FMAs per 2 loads
// and 6 broadcasts) or 6 x 4W (AVX-512, whose 32 registers hold 24
// accumulators: 24 FMAs per 4 loads and 6 broadcasts) in registers while it
// walks C, broadcasting V and loading U (the usual register-blocked GEMM).
// No GEMM library call: U stays packed and nothing is repacked per call.
// Against dnnl_sgemm in its place (one call per element e, run
// single-threaded inside the parallel loop) on ResNet18's layers under AVX2:
// this kernel is ~10% faster at 64 channels and at 512 channels batch 1,
// dnnl_sgemm ~5% faster at 128-512 channels batch 10.
//
// The code is written once over GCC vector types of W floats (ops/vec.h) and
// compiled twice, for AVX2+FMA (W = 8) and AVX-512 (W = 16), by entry points
// that carry the target and inline the rest (flatten), so the default build
// needs no -march flag and never runs an AVX-512 instruction on an AVX2 CPU.
#include "ops/winograd.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/conv2d.h"
#include "ops/vec.h"

namespace kiln::ops {

using dnnl::memory;

namespace {

constexpr int kTileRows = 6;  // tiles per micro-kernel call (its register block)

// Where the W channels [cb*W, cb*W + W) of pixel (n, h, w) start, in floats:
// n*n_stride + cb*cb_stride + h*h_stride + w*w_stride. Covers nChw{W}c and nhwc.
struct Strides {
  int64_t n = 0, cb = 0, h = 0, w = 0;
};

// Everything the execution needs, fixed at compile time.
struct Geometry {
  int64_t N, C, OC, IH, IW, OH, OW, PH, PW;  // IW: the input width (W is the vector width)
  int64_t tiles_h, tiles_w, tiles;  // 4x4 output tiles
  // The work: `blocks` blocks of tiles times `chunks` ranges of output
  // channel blocks, both split as evenly as the units allow (kTileRows tiles,
  // two channel blocks).
  int64_t blocks, chunks;
  Strides src, dst;
  WinogradEpilogue epilogue;
  size_t v_floats, m_floats;  // per-thread scratch: V and M of the largest item
};

// One item of work: tiles [first, last), output channel blocks [kb_first, kb_last).
struct WorkItem {
  int64_t first, last, kb_first, kb_last;
};

WorkItem work_item(const Geometry& g, int64_t item, int64_t W) {
  const int64_t block = item / g.chunks, chunk = item % g.chunks;
  const int64_t groups = (g.tiles + kTileRows - 1) / kTileRows;
  const int64_t pairs = (g.OC / W + 1) / 2;
  WorkItem w;
  w.first = block * groups / g.blocks * kTileRows;
  w.last = std::min(g.tiles, (block + 1) * groups / g.blocks * kTileRows);
  w.kb_first = chunk * pairs / g.chunks * 2;
  w.kb_last = std::min(g.OC / W, (chunk + 1) * pairs / g.chunks * 2);
  return w;
}

// The buffers of one execution.
struct Buffers {
  const float* src;
  float* dst;
  const float* residual;  // null unless WinogradEpilogue::Residual::input
  const float* u;         // packed transformed weights
  const float* bias;      // OC floats (zeros without a bias)
};

// V = B^T d B for the tile whose input window starts at (ih0, iw0), channel
// block at `src` (pixel (0, 0) of image n, block cb); element e of the
// result goes to v + e * v_stride.
template <int W>
inline void input_tile(const Geometry& g, const float* src, int64_t ih0, int64_t iw0, float* v,
                       int64_t v_stride) {
  Vec<W> d[6][6];
  for (int i = 0; i < 6; ++i) {
    const int64_t ih = ih0 + i;
    for (int j = 0; j < 6; ++j) {
      const int64_t iw = iw0 + j;
      if (ih >= 0 && ih < g.IH && iw >= 0 && iw < g.IW) {
        load<W>(d[i][j], src + ih * g.src.h + iw * g.src.w);
      } else {
        d[i][j] = Vec<W>{};
      }
    }
  }
  Vec<W> t[6][6];  // B^T d
  for (int j = 0; j < 6; ++j) {
    t[0][j] = 4.f * d[0][j] - 5.f * d[2][j] + d[4][j];
    t[1][j] = -4.f * (d[1][j] + d[2][j]) + d[3][j] + d[4][j];
    t[2][j] = 4.f * (d[1][j] - d[2][j]) - d[3][j] + d[4][j];
    t[3][j] = 2.f * (d[3][j] - d[1][j]) - d[2][j] + d[4][j];
    t[4][j] = 2.f * (d[1][j] - d[3][j]) - d[2][j] + d[4][j];
    t[5][j] = 4.f * d[1][j] - 5.f * d[3][j] + d[5][j];
  }
  for (int i = 0; i < 6; ++i) {  // (B^T d) B: the same combinations along a row
    const Vec<W>* r = t[i];
    float* out = v + i * 6 * v_stride;
    store<W>(out + 0 * v_stride, 4.f * r[0] - 5.f * r[2] + r[4]);
    store<W>(out + 1 * v_stride, -4.f * (r[1] + r[2]) + r[3] + r[4]);
    store<W>(out + 2 * v_stride, 4.f * (r[1] - r[2]) - r[3] + r[4]);
    store<W>(out + 3 * v_stride, 2.f * (r[3] - r[1]) - r[2] + r[4]);
    store<W>(out + 4 * v_stride, 2.f * (r[1] - r[3]) - r[2] + r[4]);
    store<W>(out + 5 * v_stride, 4.f * r[1] - 5.f * r[3] + r[5]);
  }
}

// y = A^T m A for one tile and output channel block (m: 36 vectors in a row),
// then the epilogue, stored where the tile lies inside the output (`dst` and
// `residual` at pixel (oh0, ow0) of the block).
template <int W>
inline void output_tile(const Geometry& g, const float* m, const float* bias, int64_t oh0,
                        int64_t ow0, float* dst, const float* residual) {
  Vec<W> t[4][6];  // A^T m
  for (int j = 0; j < 6; ++j) {
    Vec<W> x[6];
    for (int i = 0; i < 6; ++i) load<W>(x[i], m + (i * 6 + j) * W);
    t[0][j] = x[0] + x[1] + x[2] + x[3] + x[4];
    t[1][j] = x[1] - x[2] + 2.f * (x[3] - x[4]);
    t[2][j] = x[1] + x[2] + 4.f * (x[3] + x[4]);
    t[3][j] = x[1] - x[2] + 8.f * (x[3] - x[4]) + x[5];
  }
  Vec<W> b;
  load<W>(b, bias);
  const Vec<W> zero = {};
  const int rows = static_cast<int>(std::min<int64_t>(4, g.OH - oh0));
  const int cols = static_cast<int>(std::min<int64_t>(4, g.OW - ow0));
  const bool in_place = g.epilogue.residual == WinogradEpilogue::Residual::in_place;
  for (int i = 0; i < rows; ++i) {
    const Vec<W>* r = t[i];
    Vec<W> y[4] = {r[0] + r[1] + r[2] + r[3] + r[4], r[1] - r[2] + 2.f * (r[3] - r[4]),
                   r[1] + r[2] + 4.f * (r[3] + r[4]), r[1] - r[2] + 8.f * (r[3] - r[4]) + r[5]};
    for (int j = 0; j < cols; ++j) {
      const int64_t offset = i * g.dst.h + j * g.dst.w;
      Vec<W> out = y[j] + b;
      Vec<W> add;
      if (in_place) {
        load<W>(add, dst + offset);
        out += add;
      } else if (residual) {
        load<W>(add, residual + offset);
        out += add;
      }
      if (g.epilogue.relu) out = out > zero ? out : zero;
      store<W>(dst + offset, out);
    }
  }
}

// m[r][j] = sum_c v[r][c] * u[j][c] for kTileRows tiles (v rows C apart) and
// NB output channel blocks (u blocks C * W apart); tile r's block j is stored
// at m + r * m_row + j * 36 * W.
template <int W, int NB>
inline void gemm_micro(const float* v, const float* u, int64_t C, float* m, int64_t m_row) {
  Vec<W> acc[kTileRows][NB];
  for (int r = 0; r < kTileRows; ++r) {
    for (int j = 0; j < NB; ++j) acc[r][j] = Vec<W>{};
  }
  for (int64_t c = 0; c < C; ++c) {
    Vec<W> w[NB];
    for (int j = 0; j < NB; ++j) load<W>(w[j], u + (j * C + c) * W);
    for (int r = 0; r < kTileRows; ++r) {
      const float x = v[r * C + c];
      for (int j = 0; j < NB; ++j) acc[r][j] += x * w[j];
    }
  }
  for (int r = 0; r < kTileRows; ++r) {
    for (int j = 0; j < NB; ++j) store<W>(m + r * m_row + j * 36 * W, acc[r][j]);
  }
}

// gemm_micro over `rows` tiles (a multiple of kTileRows; v rows and m rows
// as there), for NB output channel blocks.
template <int W, int NB>
inline void gemm_rows(const float* v, const float* u, int64_t C, int64_t rows, float* m,
                      int64_t m_row) {
  for (int64_t t = 0; t < rows; t += kTileRows)
    gemm_micro<W, NB>(v + t * C, u, C, m + t * m_row, m_row);
}

// One item: the input transform of its tiles (all input channels), the 36
// GEMMs for its output channels, the output transform. V gets zero rows up to
// a multiple of kTileRows tiles; those are computed but not stored.
template <int W>
inline void run_item(const Geometry& g, const Buffers& b, int64_t item, float* v, float* m) {
  const WorkItem work = work_item(g, item, W);
  const int64_t tiles = work.last - work.first;
  const int64_t rows = (tiles + kTileRows - 1) / kTileRows * kTileRows;
  const int64_t CB = g.C / W, KB = work.kb_last - work.kb_first;
  const int64_t per_image = g.tiles_h * g.tiles_w;
  const int64_t v_stride = rows * g.C;  // from one element e to the next in V
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t tile = work.first + i;
    if (i >= tiles) {
      for (int e = 0; e < 36; ++e) std::memset(v + e * v_stride + i * g.C, 0, g.C * sizeof(float));
      continue;
    }
    const int64_t n = tile / per_image, th = tile % per_image / g.tiles_w, tw = tile % g.tiles_w;
    for (int64_t cb = 0; cb < CB; ++cb) {
      input_tile<W>(g, b.src + n * g.src.n + cb * g.src.cb, th * 4 - g.PH, tw * 4 - g.PW,
                    v + i * g.C + cb * W, v_stride);
    }
  }

  const int64_t m_row = KB * 36 * W;  // from one tile to the next in M
  for (int e = 0; e < 36; ++e) {
    const float* ve = v + e * v_stride;
    const float* ue = b.u + e * g.C * g.OC;
    for (int64_t kb = 0; kb < KB;) {
      const float* u = ue + (work.kb_first + kb) * g.C * W;
      float* out = m + (kb * 36 + e) * W;
      if constexpr (W == 16) {  // AVX-512's 32 registers hold 6 x 4 accumulators
        if (KB - kb >= 4) {
          gemm_rows<W, 4>(ve, u, g.C, rows, out, m_row);
          kb += 4;
          continue;
        }
      }
      if (KB - kb >= 2) {
        gemm_rows<W, 2>(ve, u, g.C, rows, out, m_row);
        kb += 2;
      } else {
        gemm_rows<W, 1>(ve, u, g.C, rows, out, m_row);
        kb += 1;
      }
    }
  }

  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t tile = work.first + i;
    const int64_t n = tile / per_image, th = tile % per_image / g.tiles_w, tw = tile % g.tiles_w;
    for (int64_t kb = 0; kb < KB; ++kb) {
      const int64_t ob = work.kb_first + kb;
      const int64_t offset = n * g.dst.n + ob * g.dst.cb + th * 4 * g.dst.h + tw * 4 * g.dst.w;
      output_tile<W>(g, m + i * m_row + kb * 36 * W, b.bias + ob * W, th * 4, tw * 4,
                     b.dst + offset, b.residual ? b.residual + offset : nullptr);
    }
  }
}

// The entry points per ISA: each inlines run_item and everything below it,
// so the vector code is generated for its target.
__attribute__((target("avx2,fma"), flatten)) void run_item_avx2(const Geometry& g,
                                                                 const Buffers& b, int64_t item,
                                                                 float* v, float* m) {
  run_item<8>(g, b, item, v, m);
}

__attribute__((target("avx512f"), flatten)) void run_item_avx512(const Geometry& g,
                                                                  const Buffers& b, int64_t item,
                                                                  float* v, float* m) {
  run_item<16>(g, b, item, v, m);
}

using ItemFn = void (*)(const Geometry&, const Buffers&, int64_t, float*, float*);

// U = G g G^T for every channel pair, computed in double, packed for
// gemm_micro as U[e][OC/W][C][W].
ir::TensorData transform_weights(const ir::Tensor& weight, int64_t W) {
  const int64_t OC = weight.shape[0], C = weight.shape[1];
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  ir::TensorData u(static_cast<size_t>(36 * C * OC));
  for (int64_t oc = 0; oc < OC; ++oc) {
    for (int64_t c = 0; c < C; ++c) {
      const float* k = weight.data.data() + (oc * C + c) * 9;
      double gk[6][3] = {};  // G g
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 3; ++j) {
          for (int l = 0; l < 3; ++l) gk[i][j] += G[i][l] * k[l * 3 + j];
        }
      }
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          double s = 0;  // (G g G^T)[i][j]
          for (int l = 0; l < 3; ++l) s += gk[i][l] * G[j][l];
          const int64_t e = i * 6 + j;
          u[static_cast<size_t>(((e * (OC / W) + oc / W) * C + c) * W + oc % W)] =
              static_cast<float>(s);
        }
      }
    }
  }
  return u;
}

// The strides of `desc` if it is nChw{W}c or nhwc with C a multiple of W.
bool strides_of(const memory::desc& desc, int64_t W, Strides* s) {
  const memory::dims d = desc.dims();
  const int64_t C = d[1], H = d[2], IW = d[3];
  if (C % W != 0) return false;
  const memory::format_tag blocked =
      W == 8 ? memory::format_tag::nChw8c : memory::format_tag::nChw16c;
  if (desc == memory::desc(d, memory::data_type::f32, blocked)) {
    *s = {C * H * IW, H * IW * W, IW * W, W};
    return true;
  }
  if (desc == memory::desc(d, memory::data_type::f32, memory::format_tag::nhwc)) {
    *s = {H * IW * C, W, IW * C, C};
    return true;
  }
  return false;
}

// How to split the work (Geometry::blocks, chunks) and the per-thread
// scratch that takes. Every block streams all of U once, and reuses each U
// vector once per tile: small U (fits in L2) -> one register block of tiles
// per item, so its V and M (55 KB each at 64 channels) stay close to L1 and
// U is read again from L2 for each item; large U -> larger blocks, and the
// output channels split among the threads when there are fewer blocks than
// threads (batch 1 deep layers, where U dwarfs the activations). Against
// blocks of 4 to 16 register blocks sized to half of L2, one block ran a
// chain of 64-channel 3x3 convs (56x56) 0.94x / 0.91x the time at batch
// 1 / 10 on a Zen 5, with AVX-512 and with AVX2 alike (bench/README).
void plan_work(Geometry& g, int64_t W, int threads) {
  const int64_t groups = (g.tiles + kTileRows - 1) / kTileRows;
  const int64_t pairs = (g.OC / W + 1) / 2;
  const int64_t u_bytes = 36 * g.C * g.OC * static_cast<int64_t>(sizeof(float));
  const int64_t max_groups = u_bytes <= 1024 * 1024 ? 1 : 16;
  g.blocks = (groups + max_groups - 1) / max_groups;
  if (g.blocks >= threads) {
    g.blocks = (g.blocks + threads - 1) / threads * threads;  // every thread as many
    g.blocks = std::min(g.blocks, groups);
    g.chunks = 1;
  } else {
    g.chunks = std::min<int64_t>(pairs, (threads + g.blocks - 1) / g.blocks);
  }
  const int64_t rows = (groups + g.blocks - 1) / g.blocks * kTileRows;
  const int64_t kbs = std::min(g.OC / W, (pairs + g.chunks - 1) / g.chunks * 2);
  auto round16 = [](int64_t floats) { return static_cast<size_t>((floats + 15) / 16 * 16); };
  g.v_floats = round16(36 * rows * g.C);
  g.m_floats = round16(36 * rows * kbs * W);
}

class WinogradKernel : public Kernel {
 public:
  WinogradKernel(Geometry g, memory::desc src, memory::desc dst, ir::TensorData u,
                 std::vector<float> bias, ItemFn item, int threads, std::string isa)
      : g_(g), src_(std::move(src)), dst_(std::move(dst)), u_(std::move(u)),
        bias_(std::move(bias)), item_(item), threads_(threads), isa_(std::move(isa)) {}

  memory::desc input_desc(size_t i) const override { return i == 0 ? src_ : dst_; }
  memory::desc output_desc() const override { return dst_; }
  memory::desc scratchpad_desc() const override {
    const int64_t floats = static_cast<int64_t>((g_.v_floats + g_.m_floats) * threads_);
    return memory::desc({floats}, memory::data_type::f32, memory::format_tag::a);
  }
  int inplace_input() const override {
    return g_.epilogue.residual == WinogradEpilogue::Residual::in_place ? 1 : -1;
  }

  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory& scratchpad) const override {
    ExecArgs args = {{DNNL_ARG_SRC, inputs.at(0)}, {DNNL_ARG_DST, output},
                     {DNNL_ARG_SCRATCHPAD, scratchpad}};
    if (g_.epilogue.residual == WinogradEpilogue::Residual::input)
      args[DNNL_ARG_SRC_1] = inputs.at(1);
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    stream.wait();  // the steps before have written x (and the residual)
    Buffers b = {};
    b.src = static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle());
    b.dst = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
    if (g_.epilogue.residual == WinogradEpilogue::Residual::input)
      b.residual = static_cast<const float*>(args.at(DNNL_ARG_SRC_1).get_data_handle());
    b.u = u_.data();
    b.bias = bias_.data();
    float* scratch = static_cast<float*>(args.at(DNNL_ARG_SCRATCHPAD).get_data_handle());

    const int64_t items = g_.blocks * g_.chunks;
    // The scratchpad holds threads_ slices: never run on more threads than that.
    const int threads = static_cast<int>(
        std::min<int64_t>({omp_get_max_threads(), threads_, items}));
#pragma omp parallel num_threads(threads)
    {
      const int tid = omp_get_thread_num();
      float* v = scratch + tid * (g_.v_floats + g_.m_floats);
      float* m = v + g_.v_floats;
      // Each thread takes one contiguous run of items, which covers one band
      // of rows of the maps. Along a chain of such convs (ResNet's stages) a
      // thread then reads mostly the rows it wrote itself, from its own
      // caches; items dealt out one at a time came half from the other
      // core's. 64-channel chains at batch 1 / 10: 0.91x / 0.91x the time
      // (bench/README).
#pragma omp for schedule(static)
      for (int64_t item = 0; item < items; ++item) item_(g_, b, item, v, m);
    }
  }

  std::string implementation() const override { return "kiln:wino_4x4:" + isa_; }

 private:
  Geometry g_;
  memory::desc src_, dst_;
  ir::TensorData u_;  // transformed weights, 4x the direct ones: on huge pages
  std::vector<float> bias_;
  ItemFn item_;
  int threads_;
  std::string isa_;
};

}  // namespace

int64_t winograd_vector_width() { return vector_width(); }

bool winograd_reads(const memory::desc& desc) {
  Strides unused;
  const int64_t W = winograd_vector_width();
  return W > 0 && strides_of(desc, W, &unused);
}

std::unique_ptr<Kernel> compile_winograd_conv(
    const ir::Node& node, const dnnl::convolution_forward::primitive_desc& direct,
    WinogradEpilogue epilogue) {
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Tensor& weight = *node.inputs[1]->data;
  const ir::Tensor* bias = node.inputs.size() == 3 ? node.inputs[2]->data.get() : nullptr;
  const int64_t W = winograd_vector_width();
  const ItemFn item = W == 16 ? run_item_avx512 : run_item_avx2;
  const std::string isa = vector_isa_name();
  const int64_t C = x[1], OC = weight.shape[0];
  Geometry g = {};
  // choose_conv_algo has checked all this; a broken promise must not run.
  if (W == 0 || C % W != 0 || OC % W != 0 || !strides_of(direct.src_desc(), W, &g.src) ||
      !strides_of(direct.dst_desc(), W, &g.dst))
    throw Error(node.where(),
                "Kiln's Winograd kernel cannot run this conv (ISA, channels or layout)");

  const ir::Shape y = conv2d_output_shape(node);
  const std::vector<int64_t> pad = ir::attr_ints(node, "padding", {0, 0});
  g.N = x[0], g.C = C, g.OC = OC, g.IH = x[2], g.IW = x[3], g.OH = y[2], g.OW = y[3];
  g.PH = pad[0], g.PW = pad[1];
  g.tiles_h = (g.OH + 3) / 4, g.tiles_w = (g.OW + 3) / 4;
  g.tiles = g.N * g.tiles_h * g.tiles_w;
  const int threads = std::max(1, omp_get_max_threads());
  g.epilogue = epilogue;
  plan_work(g, W, threads);

  std::vector<float> b(static_cast<size_t>(OC), 0.f);
  if (bias) b.assign(bias->data.begin(), bias->data.end());
  return std::make_unique<WinogradKernel>(g, direct.src_desc(), direct.dst_desc(),
                                          transform_weights(weight, W), std::move(b), item,
                                          threads, isa);
}

}  // namespace kiln::ops
