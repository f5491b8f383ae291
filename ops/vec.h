// W floats as one GCC vector, for Kiln's own kernels (ops/winograd.cpp,
// ops/concat_batchnorm.cpp). Their code is written once over Vec<W> and
// compiled per ISA by entry points that carry a target attribute and inline
// the rest (flatten), so the default build needs no -march flag and never
// runs an AVX-512 instruction on an AVX2 CPU.
#pragma once

#include <cstring>

namespace kiln::ops {

// Through a struct: GCC ignores vector_size on a typedef that depends on a
// template parameter inside the template itself.
template <int W>
struct VecOf {
  typedef float type __attribute__((vector_size(W * sizeof(float))));
};
template <int W>
using Vec = typename VecOf<W>::type;

// Vectors are loaded and stored by memcpy: unaligned, and never passed by
// value, so the code is the same whatever ISA the caller targets.
template <int W>
inline void load(Vec<W>& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
template <int W>
inline void store(float* p, const Vec<W>& v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace kiln::ops
