// This machine's floating-point peak, measured: a loop of independent fused
// multiply-adds on every thread, with no memory traffic. What ResNet18's
// GFLOP/s is compared against.
#pragma once

namespace kiln::bench {

struct FmaPeak {
  int threads = 0;
  double avx2_gflops = 0;    // 256-bit _mm256_fmadd_ps; 0 if the CPU lacks AVX2 + FMA
  double avx512_gflops = 0;  // 512-bit _mm512_fmadd_ps; 0 if the CPU lacks AVX-512F
};

// The best of a few tries of about 0.1 s each, per instruction set, on
// `threads` OpenMP threads.
FmaPeak measure_fma_peak(int threads);

}  // namespace kiln::bench
