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

// e^x in each lane (Cephes' expf: x = n ln2 + r, |r| <= ln2 / 2, e^r by a
// degree-6 polynomial, times 2^n through the exponent bits): within 2 ulp of
// e^x for x in [-87.3, 88.3]; x is clamped to [-87.3, 88.7], so e^x is at
// least 1.2e-38 (never a denormal) and inf from about 88.4 up (a little
// early: e^88.7 is 3.3e38); NaN stays NaN.
template <int W>
inline void exp_in_place(Vec<W>& x) {
  typedef int32_t Int __attribute__((vector_size(W * sizeof(int32_t))));
  const Vec<W> hi = Vec<W>{} + 88.7228317f, lo = Vec<W>{} - 87.3365448f;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  // n = floor(x log2(e) + 1/2), by truncation and a step down where it rounded up.
  Vec<W> fx = x * 1.44269504088896341f + 0.5f;
  const Int truncated = __builtin_convertvector(fx, Int);
  Vec<W> n = __builtin_convertvector(truncated, Vec<W>);
  n = n > fx ? n - 1.f : n;
  x = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln 2 in two parts, so r stays exact
  const Vec<W> z = x * x;
  Vec<W> y = x * 1.9875691500e-4f + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.f;
  const Int bits = (__builtin_convertvector(n, Int) + 127) << 23;  // 2^n as a float's bits
  Vec<W> scale;
  std::memcpy(&scale, &bits, sizeof scale);
  x = y * scale;
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
