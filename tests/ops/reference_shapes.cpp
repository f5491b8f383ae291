// Plain-loop references for the data-movement, reduction and normalisation
// ops, in double, from PyTorch's definitions (see reference.h).
#include <algorithm>
#include <cmath>

#include "tests/ops/reference.h"

namespace kiln::test {

static int64_t numel(const ir::Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// C-order strides of a shape.
static std::vector<int64_t> strides_of(const ir::Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

// The multi-index of flat C-order position `flat` in shape `s`.
static std::vector<int64_t> unflatten(int64_t flat, const ir::Shape& s) {
  std::vector<int64_t> index(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    index[d] = flat % s[d];
    flat /= s[d];
  }
  return index;
}

static size_t flat_of(const std::vector<int64_t>& index, const ir::Shape& s) {
  std::vector<int64_t> st = strides_of(s);
  int64_t flat = 0;
  for (size_t d = 0; d < s.size(); ++d) flat += index[d] * st[d];
  return static_cast<size_t>(flat);
}

RefTensor ref_concat(const std::vector<RefTensor>& xs, size_t axis) {
  ir::Shape shape = xs.at(0).shape;
  shape[axis] = 0;
  for (const RefTensor& x : xs) shape[axis] += x.shape[axis];
  RefTensor y{shape, std::vector<double>(static_cast<size_t>(numel(shape)))};
  int64_t offset = 0;
  for (const RefTensor& x : xs) {
    for (int64_t i = 0; i < numel(x.shape); ++i) {
      std::vector<int64_t> index = unflatten(i, x.shape);
      index[axis] += offset;
      y.data[flat_of(index, shape)] = x.data[static_cast<size_t>(i)];
    }
    offset += x.shape[axis];
  }
  return y;
}

RefTensor ref_slice(const RefTensor& x, size_t axis, int64_t start, int64_t end) {
  ir::Shape shape = x.shape;
  shape[axis] = end - start;
  RefTensor y{shape, std::vector<double>(static_cast<size_t>(numel(shape)))};
  for (int64_t i = 0; i < numel(shape); ++i) {
    std::vector<int64_t> index = unflatten(i, shape);
    index[axis] += start;
    y.data[static_cast<size_t>(i)] = x.data[flat_of(index, x.shape)];
  }
  return y;
}

RefTensor ref_permute(const RefTensor& x, const std::vector<size_t>& dims) {
  ir::Shape shape;
  for (size_t d : dims) shape.push_back(x.shape[d]);
  RefTensor y{shape, std::vector<double>(static_cast<size_t>(numel(shape)))};
  for (int64_t i = 0; i < numel(shape); ++i) {
    std::vector<int64_t> out = unflatten(i, shape), in(x.shape.size());
    for (size_t k = 0; k < dims.size(); ++k) in[dims[k]] = out[k];
    y.data[static_cast<size_t>(i)] = x.data[flat_of(in, x.shape)];
  }
  return y;
}

RefTensor ref_mean(const RefTensor& x, const std::vector<size_t>& dims, bool keepdim) {
  ir::Shape kept = x.shape;
  for (size_t d : dims) kept[d] = 1;
  RefTensor sums{kept, std::vector<double>(static_cast<size_t>(numel(kept)), 0.0)};
  for (int64_t i = 0; i < numel(x.shape); ++i) {
    std::vector<int64_t> index = unflatten(i, x.shape);
    for (size_t d : dims) index[d] = 0;
    sums.data[flat_of(index, kept)] += x.data[static_cast<size_t>(i)];
  }
  const double count = static_cast<double>(numel(x.shape) / numel(kept));
  for (double& v : sums.data) v /= count;
  if (keepdim) return sums;
  ir::Shape shape;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) shape.push_back(x.shape[d]);
  }
  if (shape.empty()) shape.push_back(1);
  return {shape, sums.data};
}

RefTensor ref_adaptive_avg_pool2d(const RefTensor& x, int64_t OH, int64_t OW) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  RefTensor y{{N, C, OH, OW}, std::vector<double>(static_cast<size_t>(N * C * OH * OW))};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        // torch's start_index / end_index
        const int64_t h0 = static_cast<int64_t>(std::floor(double(i * H) / double(OH)));
        const int64_t h1 = static_cast<int64_t>(std::ceil(double((i + 1) * H) / double(OH)));
        const int64_t w0 = static_cast<int64_t>(std::floor(double(j * W) / double(OW)));
        const int64_t w1 = static_cast<int64_t>(std::ceil(double((j + 1) * W) / double(OW)));
        double sum = 0.0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) sum += x.data[static_cast<size_t>((nc * H + h) * W + w)];
        y.data[static_cast<size_t>((nc * OH + i) * OW + j)] = sum / double((h1 - h0) * (w1 - w0));
      }
  return y;
}

RefTensor ref_layer_norm(const RefTensor& x, size_t normalized_dims, const RefTensor* weight,
                         const RefTensor* bias, double eps) {
  int64_t K = 1;
  for (size_t d = x.shape.size() - normalized_dims; d < x.shape.size(); ++d) K *= x.shape[d];
  const int64_t M = numel(x.shape) / K;
  RefTensor y = x;
  for (int64_t m = 0; m < M; ++m) {
    const double* row = x.data.data() + m * K;
    double mean = 0.0, var = 0.0;
    for (int64_t k = 0; k < K; ++k) mean += row[k];
    mean /= double(K);
    for (int64_t k = 0; k < K; ++k) var += (row[k] - mean) * (row[k] - mean);
    var /= double(K);
    for (int64_t k = 0; k < K; ++k) {
      const size_t ki = static_cast<size_t>(k);
      double v = (row[k] - mean) / std::sqrt(var + eps);
      if (weight) v *= weight->data[ki];
      if (bias) v += bias->data[ki];
      y.data[static_cast<size_t>(m * K + k)] = v;
    }
  }
  return y;
}

}  // namespace kiln::test
