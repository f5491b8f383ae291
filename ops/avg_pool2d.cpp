// avg_pool2d: as torch.nn.functional.avg_pool2d (no divisor_override).
//
//   y[n, c, oh, ow] = sum over the window of x / count
//   window: rows oh*SH - PH .. oh*SH - PH + KH - 1 (columns alike); x is 0 outside
//   count:  count_include_pad = 1: the window clipped to the padded input (KH*KW
//           except where a ceil_mode window hangs past the right padding)
//           count_include_pad = 0: the window's positions inside x
//   OH, OW as max_pool2d with dilation 1
//
// inputs   x  activation [N, C, H, W]
// output   y  [N, C, OH, OW]
// attrs    kernel             [KH, KW]  ints >= 1  required
//          stride             [SH, SW]  ints >= 1  default = kernel
//          padding            [PH, PW]  ints >= 0  default [0, 0]; at most kernel / 2
//          ceil_mode          int 0/1              default 0
//          count_include_pad  int 0/1              default 1
//
// Runs in the layout x arrives in. ceil_mode becomes extra right padding.
// oneDNN's include-padding average always divides by KH*KW, also for a
// ceil_mode window that hangs past the padded input, where PyTorch divides by
// the window clipped to the padded input: there the kernel multiplies the
// last row and column of y by KH*KW / clipped count after the pooling (a few
// elements per plane, in y's layout).
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/pool2d.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

static bool read_count_include_pad(const ir::Node& node) {
  int64_t v = ir::attr_int(node, "count_include_pad", 1);
  if (v != 0 && v != 1)
    throw Error(node.where(),
                "attribute 'count_include_pad': expected 0 or 1, got " + std::to_string(v));
  return v == 1;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"});
  read_count_include_pad(node);
  validate_pool2d(node, read_pool2d_attrs(node, false));
}

static ir::Shape infer_shape(const ir::Node& node) {
  return pool2d_shape(node, read_pool2d_attrs(node, false));
}

// Per output row (axis 0) or column (axis 1): KH / the rows of the window
// inside the padded input, PyTorch's divisor over oneDNN's; 1 but for a
// ceil_mode window hanging past the right padding.
static std::vector<double> divisor_ratios(int64_t in, size_t axis, const Pool2dAttrs& a) {
  const int64_t k = a.kernel[axis], s = a.stride[axis], p = a.padding[axis];
  std::vector<double> ratios;
  for (int64_t o = 0; o < pool2d_out_size(in, axis, a); ++o) {
    const int64_t begin = o * s - p, end = std::min(begin + k, in + p);
    ratios.push_back(static_cast<double>(k) / static_cast<double>(end - begin));
  }
  return ratios;
}

// The offset in elements of the element at `index` in a blocked layout.
static int64_t element_offset(const dnnl_memory_desc_t& md, const memory::dims& index) {
  const dnnl_blocking_desc_t& b = md.format_desc.blocking;
  std::vector<int64_t> block(index.size(), 1);
  for (int i = 0; i < b.inner_nblks; ++i) block[b.inner_idxs[i]] *= b.inner_blks[i];
  int64_t offset = md.offset0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] / block[d] * b.strides[d];
  // Inside the innermost block, the blocks nest in inner_blks order (outermost first).
  int64_t inner = 0;
  for (int i = 0; i < b.inner_nblks; ++i) {
    const int d = b.inner_idxs[i];
    block[d] /= b.inner_blks[i];
    inner = inner * b.inner_blks[i] + index[d] / block[d] % b.inner_blks[i];
  }
  return offset + inner;
}

namespace {

// oneDNN's include-padding pooling, then y *= ratio where PyTorch's divisor differs.
class ClippedDivisorKernel : public Kernel {
 public:
  struct Fix {
    int64_t oh, ow;
    float ratio;
  };

  ClippedDivisorKernel(std::unique_ptr<Kernel> pooling, std::vector<Fix> fixes)
      : pooling_(std::move(pooling)), fixes_(std::move(fixes)) {}

  memory::desc input_desc(size_t i) const override { return pooling_->input_desc(i); }
  memory::desc output_desc() const override { return pooling_->output_desc(); }
  memory::desc scratchpad_desc() const override { return pooling_->scratchpad_desc(); }
  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory& scratchpad) const override {
    return pooling_->bind(inputs, output, scratchpad);
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    pooling_->execute(stream, args);
    stream.wait();
    const memory& y = args.at(DNNL_ARG_DST);
    const dnnl_memory_desc_t& md = y.get_desc().data;
    float* data = static_cast<float*>(y.get_data_handle());
    const int64_t N = md.dims[0], C = md.dims[1];
#pragma omp parallel for
    for (int64_t nc = 0; nc < N * C; ++nc) {
      for (const Fix& f : fixes_) data[element_offset(md, {nc / C, nc % C, f.oh, f.ow})] *= f.ratio;
    }
  }

  std::string implementation() const override {
    return pooling_->implementation() + "+kiln:clipped_divisor";
  }

 private:
  std::unique_ptr<Kernel> pooling_;
  std::vector<Fix> fixes_;
};

}  // namespace

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const Pool2dAttrs a = read_pool2d_attrs(node, false);
  if (!read_count_include_pad(node))
    return compile_pool2d(node, ctx, a, dnnl::algorithm::pooling_avg_exclude_padding);
  std::unique_ptr<Kernel> pooling =
      compile_pool2d(node, ctx, a, dnnl::algorithm::pooling_avg_include_padding);
  const ir::Shape& x = node.inputs[0]->shape;
  const std::vector<double> rows = divisor_ratios(x[2], 0, a), cols = divisor_ratios(x[3], 1, a);
  std::vector<ClippedDivisorKernel::Fix> fixes;
  for (size_t oh = 0; oh < rows.size(); ++oh) {
    for (size_t ow = 0; ow < cols.size(); ++ow) {
      if (rows[oh] != 1.0 || cols[ow] != 1.0)
        fixes.push_back({static_cast<int64_t>(oh), static_cast<int64_t>(ow),
                         static_cast<float>(rows[oh] * cols[ow])});
    }
  }
  if (fixes.empty()) return pooling;
  return std::make_unique<ClippedDivisorKernel>(std::move(pooling), std::move(fixes));
}

void register_avg_pool2d(Registry& r) {
  r.add({"avg_pool2d", {1, 1, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
