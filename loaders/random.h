// A small seeded generator, the same on every platform (std:: distributions
// are not), for built-in weights and default inputs.
#pragma once

#include <cstdint>

#include "ir/tensor.h"

namespace kiln::loaders {

class Random {
 public:
  // The seed is hashed first: splitmix64 steps its state by a constant, so
  // raw seeds n and n + 1 would give the same stream shifted by one value.
  explicit Random(uint64_t seed);
  uint64_t next_u64();              // splitmix64
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                  // standard normal (Box-Muller)

 private:
  uint64_t state_;
};

// A tensor of the given shape, uniform in [lo, hi).
ir::Tensor random_tensor(const ir::Shape& shape, Random& rng, double lo, double hi);

}  // namespace kiln::loaders
