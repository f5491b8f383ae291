// W floats as one GCC vector, for Kiln's own kernels (ops/winograd.cpp,
// ops/concat_batchnorm.cpp). Their code is written once over Vec<W> and
// compiled per ISA by entry points that carry a target attribute and inline
// the rest (flatten), so the default build needs no -march flag and never
// runs an AVX-512 instruction on an AVX2 CPU.
#pragma once

#include <cstdint>
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

// A kernel body compiled three times, for AVX-512, for AVX2 + FMA and for
// the baseline; select(vector_width()) (ops/common.h) picks the one this CPU
// runs. Each entry point inlines the body and all it calls (flatten), so its
// Vec code is generated for the entry point's target:
//   using Run = PerIsa<run_units<16>>;  Run::select(width)(args...);
template <auto body>
struct PerIsa;

template <class... Args, void (*body)(Args...)>
struct PerIsa<body> {
  using Fn = void (*)(Args...);
  __attribute__((target("avx512f"), flatten)) static void avx512(Args... args) { body(args...); }
  __attribute__((target("avx2,fma"), flatten)) static void avx2(Args... args) { body(args...); }
  __attribute__((flatten)) static void baseline(Args... args) { body(args...); }
  // The entry point for vector width `width` (16, 8, or 0 for neither).
  static Fn select(int64_t width) { return width == 16 ? avx512 : width == 8 ? avx2 : baseline; }
};

}  // namespace kiln::ops
