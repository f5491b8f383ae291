// Seeded tensors and BatchNorm statistics for the fold tests
// (fold_bn_weights_test.cpp, fold_batchnorm_test.cpp).
#pragma once

#include <cstdint>

#include "ir/tensor.h"

namespace kiln::test {

// A seeded generator (splitmix64), the same on every platform.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 7) {}
  double uniform(double lo, double hi) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }
};

inline ir::Tensor random_tensor(const ir::Shape& shape, Rng& rng, double lo, double hi) {
  ir::Tensor t(shape);
  for (float& v : t.data) v = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

// Batch statistics away from the 0/1/1/0 defaults; every third gamma negative.
struct BnParams {
  ir::Tensor mean, var, gamma, beta;
};

inline BnParams random_bn(int64_t channels, Rng& rng) {
  BnParams p{random_tensor({channels}, rng, -1, 1), random_tensor({channels}, rng, 0.1, 2),
             random_tensor({channels}, rng, 0.5, 1.5), random_tensor({channels}, rng, -1, 1)};
  for (int64_t c = 1; c < channels; c += 3) p.gamma.data[c] = -p.gamma.data[c];
  return p;
}

}  // namespace kiln::test
