// adaptive_avg_pool2d: the average over windows that tile the plane into
// OH x OW cells, as torch.nn.functional.adaptive_avg_pool2d(x, (OH, OW)).
//
//   y[n, c, i, j] = mean of x[n, c, h, w] over h0(i) <= h < h1(i), w0(j) <= w < w1(j)
//   h0(i) = floor(i * H / OH), h1(i) = ceil((i + 1) * H / OH)   (columns alike with W, OW)
//
// inputs   x  activation [N, C, H, W]
// output   y  [N, C, OH, OW]
// attrs    output_size  [OH, OW]  ints >= 1  required
//
// When the windows along each axis have one size and move by one stride (H a
// multiple of OH, or e.g. 7 -> 3: windows 0..2, 2..4, 4..6), this is an
// average pooling, run by oneDNN in the layout x arrives in; output size =
// input size copies x (nothing at all when x dies here). Other sizes (5 -> 3:
// windows of 2, 3 and 2) run Kiln's own loop over a plain x.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/pool2d.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

using dnnl::memory;

static std::vector<int64_t> read_output_size(const ir::Node& node) {
  if (!node.attrs.count("output_size"))
    throw Error(node.where(), "attribute 'output_size' is required");
  return ir::attr_ints_checked(node, "output_size", 2, 1, {});
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"output_size"});
  require_activation(node, 0, "x");
  require_nchw(node, 0, "x");
  read_output_size(node);
}

static ir::Shape infer_shape(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  const std::vector<int64_t> out = read_output_size(node);
  return {x[0], x[1], out[0], out[1]};
}

// PyTorch's windows along one axis: [begin, end) for each of `out` cells.
struct Window {
  int64_t begin, end;
};

static std::vector<Window> windows(int64_t in, int64_t out) {
  std::vector<Window> w;
  for (int64_t i = 0; i < out; ++i) w.push_back({i * in / out, ((i + 1) * in + out - 1) / out});
  return w;
}

// The pooling kernel and stride that give these windows, if any.
static bool uniform(const std::vector<Window>& w, int64_t& kernel, int64_t& stride) {
  kernel = w[0].end - w[0].begin;
  stride = w.size() > 1 ? w[1].begin - w[0].begin : kernel;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i].begin != static_cast<int64_t>(i) * stride || w[i].end - w[i].begin != kernel)
      return false;
  }
  return stride >= 1;
}

namespace {

// The windows of any size, over plain x and y: one plane at a time.
class AdaptiveAvgPoolKernel : public Kernel {
 public:
  AdaptiveAvgPoolKernel(const ir::Shape& x, const ir::Shape& y)
      : x_(plain_desc(x)), y_(plain_desc(y)), planes_(x[0] * x[1]), H_(x[2]), W_(x[3]),
        rows_(windows(x[2], y[2])), cols_(windows(x[3], y[3])) {}

  memory::desc input_desc(size_t) const override { return x_; }
  memory::desc output_desc() const override { return y_; }
  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory&) const override {
    return {{DNNL_ARG_SRC, inputs.at(0)}, {DNNL_ARG_DST, output}};
  }

  void execute(dnnl::stream&, const ExecArgs& args) const override {
    const float* x = static_cast<const float*>(args.at(DNNL_ARG_SRC).get_data_handle());
    float* y = static_cast<float*>(args.at(DNNL_ARG_DST).get_data_handle());
    const int64_t OH = static_cast<int64_t>(rows_.size()), OW = static_cast<int64_t>(cols_.size());
#pragma omp parallel for
    for (int64_t p = 0; p < planes_; ++p) {
      const float* plane = x + p * H_ * W_;
      for (int64_t i = 0; i < OH; ++i) {
        for (int64_t j = 0; j < OW; ++j) {
          const Window r = rows_[static_cast<size_t>(i)], c = cols_[static_cast<size_t>(j)];
          float sum = 0.f;
          for (int64_t h = r.begin; h < r.end; ++h)
            for (int64_t w = c.begin; w < c.end; ++w) sum += plane[h * W_ + w];
          y[(p * OH + i) * OW + j] = sum / static_cast<float>((r.end - r.begin) * (c.end - c.begin));
        }
      }
    }
  }

  std::string implementation() const override { return "kiln:adaptive_avg_pool"; }

 private:
  memory::desc x_, y_;
  int64_t planes_, H_, W_;
  std::vector<Window> rows_, cols_;
};

}  // namespace

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape y = infer_shape(node);
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const memory::desc& in = ctx.input_descs.at(0);
    if (x == y)
      return std::make_unique<CopyKernel>(in, in, in, in, ctx.engine,
                                          dies_here(ctx, 0));
    int64_t kh, kw, sh, sw;
    if (uniform(windows(x[2], y[2]), kh, sh) && uniform(windows(x[3], y[3]), kw, sw))
      return compile_pool2d(node, ctx, unpadded_pool2d(kh, kw, sh, sw),
                            dnnl::algorithm::pooling_avg_exclude_padding);
    return std::make_unique<AdaptiveAvgPoolKernel>(x, y);
  });
}

void register_adaptive_avg_pool2d(Registry& r) {
  r.add({"adaptive_avg_pool2d", {1, 1, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
