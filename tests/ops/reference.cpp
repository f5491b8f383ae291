#include "tests/ops/reference.h"

#include <doctest/doctest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "ir/error.h"

namespace kiln::test {

RefTensor to_ref(const ir::Tensor& t) {
  return {t.shape, std::vector<double>(t.data.begin(), t.data.end())};
}

static int64_t numel(const ir::Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

static RefTensor zeros(const ir::Shape& shape) {
  return {shape, std::vector<double>(static_cast<size_t>(numel(shape)), 0.0)};
}

// `t`'s data from element `offset` on as a row-major [rows, cols] matrix.
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
static Eigen::Map<RowMajor> matrix(RefTensor& t, int64_t offset, int64_t rows, int64_t cols) {
  return {t.data.data() + offset, rows, cols};
}
static Eigen::Map<const RowMajor> matrix(const RefTensor& t, int64_t offset, int64_t rows,
                                         int64_t cols) {
  return {t.data.data() + offset, rows, cols};
}
// `count` elements of `t` from `offset` on as a column vector.
static Eigen::Map<const Eigen::VectorXd> column(const RefTensor& t, int64_t offset,
                                                 int64_t count) {
  return {t.data.data() + offset, count};
}

// Index of [a, b, c, d] in a C-ordered rank-4 shape.
static size_t at4(const ir::Shape& s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return static_cast<size_t>(((a * s[1] + b) * s[2] + c) * s[3] + d);
}

// As a matrix product per sample and group: y[oc, pixel] = sum over (ic, kh,
// kw) of w[oc, (ic, kh, kw)] * patches[(ic, kh, kw), pixel], where patches
// holds, for each output pixel, the input values under the kernel (0 in the
// padding).
RefTensor ref_conv2d(const RefTensor& x, const RefTensor& weight, const RefTensor* bias,
                     std::vector<int64_t> stride, std::vector<int64_t> padding,
                     std::vector<int64_t> dilation, int64_t groups) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OC = weight.shape[0], KH = weight.shape[2], KW = weight.shape[3];
  const int64_t icg = C / groups, ocg = OC / groups;
  const int64_t OH = (H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) / stride[0] + 1;
  const int64_t OW = (W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) / stride[1] + 1;
  const int64_t taps = icg * KH * KW;
  RefTensor y = zeros({N, OC, OH, OW});
  Eigen::MatrixXd patches(taps, OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t ic = 0; ic < icg; ++ic)
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw)
            for (int64_t oh = 0; oh < OH; ++oh)
              for (int64_t ow = 0; ow < OW; ++ow) {
                int64_t ih = oh * stride[0] - padding[0] + kh * dilation[0];
                int64_t iw = ow * stride[1] - padding[1] + kw * dilation[1];
                bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                patches((ic * KH + kh) * KW + kw, oh * OW + ow) =
                    inside ? x.data[at4(x.shape, n, g * icg + ic, ih, iw)] : 0.0;
              }
      auto y_group = matrix(y, (n * OC + g * ocg) * OH * OW, ocg, OH * OW);
      y_group.noalias() = matrix(weight, g * ocg * taps, ocg, taps) * patches;
      if (bias) y_group.colwise() += column(*bias, g * ocg, ocg);
    }
  return y;
}

// Per sample, x as [C, inner]: y = diag(s) * (x - mean) + beta, s = gamma / sqrt(var + eps).
RefTensor ref_batchnorm(const RefTensor& x, const RefTensor& mean, const RefTensor& var,
                        const RefTensor* gamma, const RefTensor* beta, double eps) {
  const int64_t N = x.shape[0], C = x.shape[1];
  const int64_t inner = numel(x.shape) / (N * C);
  Eigen::VectorXd scale = (column(var, 0, C).array() + eps).rsqrt();
  if (gamma) scale = scale.cwiseProduct(column(*gamma, 0, C));
  RefTensor y = zeros(x.shape);
  for (int64_t n = 0; n < N; ++n) {
    auto y_n = matrix(y, n * C * inner, C, inner);
    y_n.noalias() = scale.asDiagonal() * (matrix(x, n * C * inner, C, inner).colwise() -
                                          column(mean, 0, C));
    if (beta) y_n.colwise() += column(*beta, 0, C);
  }
  return y;
}

RefTensor ref_relu(const RefTensor& x) {
  RefTensor y = x;
  for (double& v : y.data) v = std::max(v, 0.0);
  return y;
}

RefTensor ref_add(const RefTensor& a, const RefTensor& b) {
  RefTensor y = a;
  for (size_t i = 0; i < y.data.size(); ++i) y.data[i] += b.data[i];
  return y;
}

RefTensor ref_flatten(const RefTensor& x, int64_t start_dim) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (start_dim < 0) start_dim += rank;
  ir::Shape shape(x.shape.begin(), x.shape.begin() + start_dim);
  shape.push_back(numel(ir::Shape(x.shape.begin() + start_dim, x.shape.end())));
  return {shape, x.data};
}

// y = x * weight^T + bias over the last dim: x [..., IN], weight [OUT, IN].
RefTensor ref_linear(const RefTensor& x, const RefTensor& weight, const RefTensor* bias) {
  const int64_t IN = x.shape.back(), OUT = weight.shape[0], M = numel(x.shape) / IN;
  ir::Shape shape = x.shape;
  shape.back() = OUT;
  RefTensor y = zeros(shape);
  auto y_rows = matrix(y, 0, M, OUT);
  y_rows.noalias() = matrix(x, 0, M, IN) * matrix(weight, 0, OUT, IN).transpose();
  if (bias) y_rows.rowwise() += column(*bias, 0, OUT).transpose();
  return y;
}

// torch's pooling_output_shape: with ceil_mode, the last window must start
// inside the input or the left padding.
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = num / s + 1;  // num >= 0 in every test
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

RefTensor ref_max_pool2d(const RefTensor& x, std::vector<int64_t> kernel,
                         std::vector<int64_t> stride, std::vector<int64_t> padding,
                         std::vector<int64_t> dilation, bool ceil_mode) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = pool_out(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode);
  const int64_t OW = pool_out(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode);
  RefTensor y = zeros({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t kh = 0; kh < kernel[0]; ++kh)
            for (int64_t kw = 0; kw < kernel[1]; ++kw) {
              int64_t ih = oh * stride[0] - padding[0] + kh * dilation[0];
              int64_t iw = ow * stride[1] - padding[1] + kw * dilation[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              best = std::max(best, x.data[at4(x.shape, n, c, ih, iw)]);
            }
          y.data[at4(y.shape, n, c, oh, ow)] = best;
        }
  return y;
}

// As torch's avg_pool2d kernel: the divisor with count_include_pad is the
// window clipped to the padded input, without it the window clipped to x.
RefTensor ref_avg_pool2d(const RefTensor& x, std::vector<int64_t> kernel,
                         std::vector<int64_t> stride, std::vector<int64_t> padding,
                         bool ceil_mode, bool count_include_pad) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = pool_out(H, kernel[0], stride[0], padding[0], 1, ceil_mode);
  const int64_t OW = pool_out(W, kernel[1], stride[1], padding[1], 1, ceil_mode);
  RefTensor y = zeros({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t h0 = oh * stride[0] - padding[0], w0 = ow * stride[1] - padding[1];
          int64_t h1 = std::min(h0 + kernel[0], H + padding[0]);
          int64_t w1 = std::min(w0 + kernel[1], W + padding[1]);
          int64_t padded_count = (h1 - h0) * (w1 - w0);
          h0 = std::max<int64_t>(h0, 0);
          w0 = std::max<int64_t>(w0, 0);
          h1 = std::min(h1, H);
          w1 = std::min(w1, W);
          double sum = 0.0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) sum += x.data[at4(x.shape, n, c, h, w)];
          int64_t count = count_include_pad ? padded_count : (h1 - h0) * (w1 - w0);
          y.data[at4(y.shape, n, c, oh, ow)] = sum / static_cast<double>(count);
        }
  return y;
}

RefTensor ref_global_avg_pool2d(const RefTensor& x) {
  const int64_t N = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3];
  RefTensor y = zeros({N, C, 1, 1});
  matrix(y, 0, N * C, 1) = matrix(x, 0, N * C, HW).rowwise().mean();
  return y;
}

// NumPy broadcasting: shapes aligned on the right, each pair equal or 1.
RefTensor ref_binary(const std::string& op, const RefTensor& a, const RefTensor& b) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  auto aligned = [&](const ir::Shape& s) {
    ir::Shape out(rank - s.size(), 1);
    out.insert(out.end(), s.begin(), s.end());
    return out;
  };
  const ir::Shape sa = aligned(a.shape), sb = aligned(b.shape);
  ir::Shape shape(rank);
  for (size_t d = 0; d < rank; ++d) shape[d] = std::max(sa[d], sb[d]);
  RefTensor y = zeros(shape);
  std::vector<int64_t> index(rank, 0);
  for (double& out : y.data) {
    // The flat offsets of the current index in a and b, a broadcast dim read at 0.
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * sa[d] + (sa[d] == 1 ? 0 : index[d]);
      ib = ib * sb[d] + (sb[d] == 1 ? 0 : index[d]);
    }
    const double x = a.data[static_cast<size_t>(ia)], z = b.data[static_cast<size_t>(ib)];
    out = op == "add" ? x + z : op == "sub" ? x - z : op == "mul" ? x * z : x / z;
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return y;
}

static double real_attr(const ir::Attrs& attrs, const std::string& key, double fallback) {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (auto i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  return std::get<double>(it->second);
}

double ref_activation(const std::string& op, double x, const ir::Attrs& attrs) {
  const double inf = std::numeric_limits<double>::infinity();
  auto clamp = [](double v, double lo, double hi) { return std::min(std::max(v, lo), hi); };
  if (op == "relu") return std::max(x, 0.0);
  if (op == "clamp") return clamp(x, real_attr(attrs, "min", -inf), real_attr(attrs, "max", inf));
  if (op == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (op == "silu") return x / (1.0 + std::exp(-x));
  if (op == "hardswish") return x * clamp(x + 3, 0, 6) / 6;
  if (op == "hardsigmoid") return clamp(x + 3, 0, 6) / 6;
  if (op == "tanh") return std::tanh(x);
  if (op == "gelu") {
    auto it = attrs.find("approximate");
    if (it != attrs.end() && std::get<std::string>(it->second) == "tanh") {
      const double k = std::sqrt(2.0 / M_PI);
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    }
    return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  }
  if (op == "leaky_relu") return x > 0 ? x : x * real_attr(attrs, "negative_slope", 0.01);
  if (op == "elu") return x > 0 ? x : real_attr(attrs, "alpha", 1.0) * (std::exp(x) - 1.0);
  throw std::runtime_error("ref_activation: unknown op " + op);
}

RefTensor ref_activation(const std::string& op, const RefTensor& x, const ir::Attrs& attrs) {
  RefTensor y = x;
  for (double& v : y.data) v = ref_activation(op, v, attrs);
  return y;
}

}  // namespace kiln::test
