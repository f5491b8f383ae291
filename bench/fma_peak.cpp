// Each thread runs kAccumulators independent chains acc = acc * a + b, so
// that the FMA units never wait on a previous result: with a latency of 4
// cycles and 2 FMA pipes, 8 chains keep them busy, 10 leave a margin.
// a and b keep acc near b / (1 - a), away from overflow and denormals.
// The functions carry target attributes, so this file needs no -mavx2 and
// the rest of Kiln keeps its own flags; each is called only when the CPU
// has the instructions.
#include "bench/fma_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace kiln::bench {

namespace {

constexpr int kAccumulators = 10;

__attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  __m256 acc[kAccumulators];
  for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_set1_ps(0.1f * static_cast<float>(k));
  for (int64_t i = 0; i < iters; ++i) {
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  __m256 sum = acc[0];
  for (int k = 1; k < kAccumulators; ++k) sum = _mm256_add_ps(sum, acc[k]);
  return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f"))) float fma_chains_avx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 acc[kAccumulators];
  for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_set1_ps(0.1f * static_cast<float>(k));
  for (int64_t i = 0; i < iters; ++i) {
    for (int k = 0; k < kAccumulators; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  __m512 sum = acc[0];
  for (int k = 1; k < kAccumulators; ++k) sum = _mm512_add_ps(sum, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  return lanes[0] + lanes[15];
}

using ChainFn = float (*)(int64_t);

// Seconds for `threads` threads to each run fn(iters).
double time_parallel(ChainFn fn, int threads, int64_t iters) {
  float sink = 0;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += fn(iters);
  auto end = std::chrono::steady_clock::now();
  volatile float keep = sink;  // the result is used, so the loops stay
  (void)keep;
  return std::chrono::duration<double>(end - start).count();
}

double peak_gflops(ChainFn fn, int lanes, int threads) {
  const double flops_per_iter = 2.0 * lanes * kAccumulators;  // an FMA is 2 flops
  int64_t iters = 1 << 16;
  while (time_parallel(fn, threads, iters) < 0.05 && iters < (int64_t(1) << 34)) iters *= 2;
  iters *= 2;  // about 0.1 s per try
  double best = 0;
  for (int t = 0; t < 5; ++t) {
    double seconds = time_parallel(fn, threads, iters);
    best = std::max(best, flops_per_iter * static_cast<double>(iters) * threads / seconds / 1e9);
  }
  return best;
}

}  // namespace

FmaPeak measure_fma_peak(int threads) {
  FmaPeak peak;
  peak.threads = threads;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    peak.avx2_gflops = peak_gflops(fma_chains_avx2, 8, threads);
  if (__builtin_cpu_supports("avx512f"))
    peak.avx512_gflops = peak_gflops(fma_chains_avx512, 16, threads);
  return peak;
}

}  // namespace kiln::bench
