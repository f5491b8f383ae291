// A small seeded generator, the same on every platform (std:: distributions
// are not), for built-in weights and default inputs.
#pragma once

#include <cstdint>

#include "ir/tensor.h"

namespace kiln::loaders {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next_u64();              // splitmix64
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                  // standard normal (Box-Muller)

 private:
  uint64_t state_;
};

// A tensor of the given shape, uniform in [lo, hi).
ir::Tensor random_tensor(const ir::Shape& shape, Random& rng, double lo, double hi);

}  // namespace kiln::loaders
