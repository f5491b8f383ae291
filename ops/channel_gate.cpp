// Kiln's channel-gate kernel: see ops/channel_gate.h.
//
// One pass over x in memory order, pixel by pixel: the C values of a pixel
// meet the C values of g for its image, a vector loop the compiler
// generates per ISA (ops/vec.h's PerIsa). The pixels are split in equal
// stretches between the threads. Each output element reads only the input
// element at its place, so the engine may let y overwrite x.
#include "ops/channel_gate.h"

#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ops/common.h"
#include "ops/loop_layout.h"
#include "ops/vec.h"

namespace kiln::ops {

using dnnl::memory;

namespace {

enum class Op { add, sub, mul, div, reverse_sub, reverse_div };

struct Geometry {
  int64_t HW = 0, C = 0;
  bool per_image = true;
};

template <Op op>
inline float apply(float x, float g) {
  if constexpr (op == Op::add) return x + g;
  if constexpr (op == Op::sub) return x - g;
  if constexpr (op == Op::mul) return x * g;
  if constexpr (op == Op::div) return x / g;
  if constexpr (op == Op::reverse_sub) return g - x;
  return g / x;  // reverse_div
}

// Pixels [begin, end) of x (n * HW + h * W + w).
template <Op op>
void run_pixels(const Geometry& geo, const float* x, const float* g, float* y, int64_t begin,
                int64_t end) {
  const int64_t C = geo.C;
  for (int64_t p = begin; p < end; ++p) {
    const float* __restrict gp = g + (geo.per_image ? p / geo.HW * C : 0);
    const float* __restrict xp = x + p * C;
    float* __restrict yp = y + p * C;
    for (int64_t c = 0; c < C; ++c) yp[c] = apply<op>(xp[c], gp[c]);
  }
}

using RunFn = void (*)(const Geometry&, const float*, const float*, float*, int64_t, int64_t);

RunFn run_for(Op op, int64_t width) {
  switch (op) {
    case Op::add: return PerIsa<run_pixels<Op::add>>::select(width);
    case Op::sub: return PerIsa<run_pixels<Op::sub>>::select(width);
    case Op::mul: return PerIsa<run_pixels<Op::mul>>::select(width);
    case Op::div: return PerIsa<run_pixels<Op::div>>::select(width);
    case Op::reverse_sub: return PerIsa<run_pixels<Op::reverse_sub>>::select(width);
    case Op::reverse_div: return PerIsa<run_pixels<Op::reverse_div>>::select(width);
  }
  return nullptr;
}

Op op_of(dnnl::algorithm alg, bool gate_first) {
  switch (alg) {
    case dnnl::algorithm::binary_add: return Op::add;
    case dnnl::algorithm::binary_mul: return Op::mul;
    case dnnl::algorithm::binary_sub: return gate_first ? Op::reverse_sub : Op::sub;
    default: return gate_first ? Op::reverse_div : Op::div;
  }
}

memory::desc nhwc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::nhwc);
}

// Whether `layout` holds a [N, C, 1, 1] tensor's values in (n, c) order,
// densely: plain, nhwc, or channel blocks that C fills.
bool gate_order(const memory::desc& layout) {
  const memory::dims d = layout.dims();
  if (d.size() != 4 || d[2] != 1 || d[3] != 1) return false;
  const int block = loop_block_of(layout);  // with one pixel, nchw and nhwc are one order
  return block >= 0 && (block <= 1 || d[1] % block == 0);
}

class ChannelGateKernel : public Kernel {
 public:
  ChannelGateKernel(const ChannelGate& gate, std::vector<memory::desc> inputs, Geometry geo,
                    RunFn run, std::string name)
      : x_input_(gate.x_input), g_input_(gate.g_input), inputs_(std::move(inputs)), geo_(geo),
        run_(run), name_(std::move(name)), pixels_(gate.y[0] * geo.HW) {
    if (gate.gate) gate_ = gate.gate->data;
  }

  memory::desc input_desc(size_t i) const override { return inputs_.at(i); }
  memory::desc output_desc() const override { return inputs_.at(static_cast<size_t>(x_input_)); }
  bool can_overwrite_input(size_t i) const override { return static_cast<int>(i) == x_input_; }

  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory&) const override {
    ExecArgs args = {{DNNL_ARG_SRC_0, inputs.at(static_cast<size_t>(x_input_))},
                     {DNNL_ARG_DST, output}};
    if (g_input_ >= 0) args[DNNL_ARG_SRC_1] = inputs.at(static_cast<size_t>(g_input_));
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    stream.wait();  // the steps before have written x and g
    const float* x = static_cast<const float*>(args.at(DNNL_ARG_SRC_0).get_data_handle());
    const float* g = g_input_ >= 0
                         ? static_cast<const float*>(args.at(DNNL_ARG_SRC_1).get_data_handle())
                         : gate_.data();
    float* y = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
    const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), pixels_));
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      run_(geo_, x, g, y, pixels_ * t / T, pixels_ * (t + 1) / T);
    }
  }

  std::string implementation() const override { return name_; }

 private:
  int x_input_, g_input_;
  std::vector<memory::desc> inputs_;
  Geometry geo_;
  RunFn run_;
  std::string name_;
  int64_t pixels_;
  ir::TensorData gate_;  // a parameter gate, in (n, c) order
};

}  // namespace

bool channel_gate_applies(const memory::desc& x_layout, const memory::dims& g_dims) {
  const memory::dims y = x_layout.dims();
  if (y.size() != 4 || x_layout != nhwc(y) || g_dims.size() != 4) return false;
  return (g_dims[0] == 1 || g_dims[0] == y[0]) && g_dims[1] == y[1] && g_dims[2] == 1 &&
         g_dims[3] == 1;
}

std::unique_ptr<Kernel> compile_channel_gate(const ChannelGate& gate,
                                             const memory::desc& g_layout) {
  const memory::dims& y = gate.y;
  const memory::dims g_dims = g_layout.dims();
  Geometry geo;
  geo.HW = y[2] * y[3], geo.C = y[1], geo.per_image = gate.per_image;
  std::vector<memory::desc> inputs(gate.g_input >= 0 ? 2 : 1);
  inputs.at(static_cast<size_t>(gate.x_input)) = nhwc(y);
  if (gate.g_input >= 0)
    inputs.at(static_cast<size_t>(gate.g_input)) =
        gate_order(g_layout) ? g_layout : plain_desc(ir::Shape(g_dims.begin(), g_dims.end()));
  return std::make_unique<ChannelGateKernel>(
      gate, std::move(inputs), geo, run_for(op_of(gate.alg, gate.gate_first), vector_width()),
      std::string("kiln:channel_gate:") + vector_isa_name());
}

}  // namespace kiln::ops
