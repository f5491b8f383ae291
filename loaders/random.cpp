#include "loaders/random.h"

#include <cmath>

namespace kiln::loaders {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio

// splitmix64's output function (a variant of MurmurHash3's finaliser).
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Random::Random(uint64_t seed) : state_(mix(seed + kGolden)) {}

// splitmix64 (Steele, Lea, Flood 2014): a 64-bit counter stepped by kGolden,
// passed through mix(). Full period 2^64, passes BigCrush.
uint64_t Random::next_u64() {
  state_ += kGolden;
  return mix(state_);
}

// The top 53 bits scaled by 2^-53: every double in [0, 1) on that grid, equally likely.
double Random::uniform(double lo, double hi) {
  double u = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}

// Box-Muller: sqrt(-2 ln u1) * cos(2 pi u2), with u1 in (0, 1] so the log is finite.
// The second value of each pair is dropped to keep the generator's state a single number.
double Random::normal() {
  const double kTwoPi = 6.283185307179586476925286766559;
  double u1 = 1.0 - uniform(0.0, 1.0);
  double u2 = uniform(0.0, 1.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

ir::Tensor random_tensor(const ir::Shape& shape, Random& rng, double lo, double hi) {
  ir::Tensor t(shape);
  for (float& x : t.data) x = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

}  // namespace kiln::loaders
