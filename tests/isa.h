// Whether this machine runs AVX2 code: the CPU has AVX2 and FMA, and oneDNN
// may use them (ONEDNN_MAX_CPU_ISA=SSE41 forbids it). Without them Kiln's own
// Winograd kernel (ops/winograd.cpp) does not exist, every Winograd request
// falls back to direct, and oneDNN may run a small conv in the plain layout.
//
// doctest has no skip: a case that needs AVX2 starts with
//   if (skip_without_avx2("Kiln's Winograd kernel")) return;
// which leaves a MESSAGE saying what was skipped, and says so in a comment.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include <oneapi/dnnl/dnnl.hpp>

namespace kiln::test {

inline bool has_avx2() {
  const int effective = static_cast<int>(dnnl::get_effective_cpu_isa());
  const int avx2 = static_cast<int>(dnnl::cpu_isa::avx2);
  return (effective & avx2) == avx2 && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma");
}

// True, with a MESSAGE naming `what` is skipped, where there is no AVX2.
inline bool skip_without_avx2(const char* what) {
  if (has_avx2()) return false;
  MESSAGE("skipped without AVX2 and FMA (not on this CPU, or ONEDNN_MAX_CPU_ISA forbids them): "
          << std::string(what));
  return true;
}

// Whether oneDNN may use AVX-512 here (the CPU has it, ONEDNN_MAX_CPU_ISA
// allows it): oneDNN 2.6 has its Winograd kernel only then, and Kiln's own
// Winograd works on 16 channels at a time instead of 8.
inline bool has_avx512() {
  const int effective = static_cast<int>(dnnl::get_effective_cpu_isa());
  const int avx512 = static_cast<int>(dnnl::cpu_isa::avx512_core);
  return (effective & avx512) == avx512 && __builtin_cpu_supports("avx512f");
}

// True, with a MESSAGE, where there is no AVX-512 (`what` needs oneDNN's Winograd).
inline bool skip_without_avx512(const char* what) {
  if (has_avx512()) return false;
  MESSAGE("skipped without AVX-512 (not on this CPU, or ONEDNN_MAX_CPU_ISA forbids it): "
          << std::string(what));
  return true;
}

// The ISA Kiln's own loops should run here, as their profile names spell it
// (ops/vec.h's PerIsa): "avx512", "avx2", or "baseline" without AVX2.
inline std::string kiln_loop_isa() {
  return has_avx512() ? "avx512" : has_avx2() ? "avx2" : "baseline";
}

// True, with a MESSAGE, unless the machine runs AVX2 but not AVX-512: `what`
// is the path of CPUs with Kiln's Winograd and no oneDNN Winograd. ctest runs
// such cases again under ONEDNN_MAX_CPU_ISA=AVX2 (tests/CMakeLists.txt).
inline bool skip_unless_avx2_only(const char* what) {
  if (has_avx2() && !has_avx512()) return false;
  MESSAGE("skipped: needs AVX2 without AVX-512 (run under ONEDNN_MAX_CPU_ISA=AVX2): "
          << std::string(what));
  return true;
}

}  // namespace kiln::test
