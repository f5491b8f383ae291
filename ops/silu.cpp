// silu: y = x * sigmoid(x) = x / (1 + exp(-x)), elementwise (also called swish).
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// Kiln's own loop (ops/silu_loop.h) over x's buffer as it arrives, in any
// layout (the padding of a blocked one included: it is never read back), y
// in the same layout, in place where x dies. oneDNN 2.6's eltwise_swish, the
// activation table's form, is bound by its arithmetic on this Zen 4: 4.2 ms
// for [10, 96, 112, 112] in place, where a relu takes 1.2 ms and this loop
// measured (bench/README.md). Without AVX2 the op is oneDNN's.
#include <omp.h>

#include <algorithm>

#include "ops/activation.h"
#include "ops/common.h"
#include "ops/silu_loop.h"
#include "ops/vec.h"

namespace kiln::ops {

namespace {

// y = x / (1 + e^-x) over n floats, 16 at a time; the tail as one more
// vector, read and written through a small buffer.
void silu_range(const float* x, float* y, int64_t n) {
  constexpr int W = 16;
  auto silu16 = [](const float* in, float* out) {
    Vec<W> v, e;
    load<W>(v, in);
    e = -v;
    exp_in_place<W>(e);
    v = v / (e + 1.f);
    store<W>(out, v);
  };
  int64_t i = 0;
  for (; i + W <= n; i += W) silu16(x + i, y + i);
  if (i < n) {
    float tail[W] = {};
    std::copy(x + i, x + n, tail);
    silu16(tail, tail);
    std::copy(tail, tail + (n - i), y + i);
  }
}

class SiluKernel : public Kernel {
 public:
  SiluKernel(const dnnl::memory::desc& x, SiluLoop loop) : x_(x), loop_(loop) {}

  dnnl::memory::desc input_desc(size_t) const override { return x_; }
  dnnl::memory::desc output_desc() const override { return x_; }
  bool can_overwrite_input(size_t i) const override { return i == 0; }

  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory&) const override {
    return {{DNNL_ARG_SRC, inputs.at(0)}, {DNNL_ARG_DST, output}};
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    stream.wait();  // the step before has written x
    const float* x = static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle());
    float* y = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
    const int64_t n = static_cast<int64_t>(x_.get_size() / sizeof(float));
    const int64_t chunks = (n + 15) / 16;  // threads split whole vectors
    const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), chunks));
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t begin = std::min(n, chunks * t / T * 16);
      const int64_t end = std::min(n, chunks * (t + 1) / T * 16);
      loop_(x + begin, y + begin, end - begin);
    }
  }

  std::string implementation() const override {
    return std::string("kiln:silu:") + vector_isa_name();
  }

 private:
  dnnl::memory::desc x_;
  SiluLoop loop_;
};

}  // namespace

SiluLoop silu_loop() { return vector_width() ? PerIsa<silu_range>::select(vector_width()) : nullptr; }

void register_silu(Registry& r) {
  OpDef def = activation_op("silu");
  const auto onednn = def.compile;
  def.compile = [onednn](const ir::Node& node, const CompileContext& ctx) -> std::unique_ptr<Kernel> {
    const SiluLoop loop = silu_loop();
    if (!loop) return onednn(node, ctx);
    return std::make_unique<SiluKernel>(ctx.input_descs.at(0), loop);
  };
  r.add(def);
}

}  // namespace kiln::ops
