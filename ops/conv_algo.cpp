#include "ops/conv_algo.h"

#include <cstdio>

#include "ops/choice_names.h"

namespace kiln::ops {

static constexpr ConvAlgo kAll[] = {ConvAlgo::direct, ConvAlgo::winograd, ConvAlgo::kiln_winograd,
                                    ConvAlgo::auto_, ConvAlgo::tune};

const char* conv_algo_name(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::direct: return "direct";
    case ConvAlgo::winograd: return "winograd";
    case ConvAlgo::kiln_winograd: return "kiln-winograd";
    case ConvAlgo::auto_: return "auto";
    case ConvAlgo::tune: return "tune";
  }
  return "?";
}

std::optional<ConvAlgo> conv_algo_from_name(const std::string& name) {
  return choice_from_name(kAll, conv_algo_name, name);
}

std::string conv_algo_names() { return choice_names(kAll, conv_algo_name); }

const char* conv_kernel_name(ConvKernel kernel) {
  switch (kernel) {
    case ConvKernel::direct: return "direct";
    case ConvKernel::onednn_winograd: return "onednn winograd";
    case ConvKernel::kiln_winograd: return "kiln winograd";
  }
  return "?";
}

std::optional<ConvKernel> conv_kernel_from_name(const std::string& name) {
  static constexpr ConvKernel kKernels[] = {ConvKernel::direct, ConvKernel::onednn_winograd,
                                            ConvKernel::kiln_winograd};
  return choice_from_name(kKernels, conv_kernel_name, name);
}

ConvKernel ConvTuning::fastest() const {
  const Time* best = nullptr;
  for (const Time& t : times) {
    if (!best || t.ms < best->ms) best = &t;
  }
  return best ? best->kernel : ConvKernel::direct;
}

std::string ConvTuning::str() const {
  std::string s;
  for (const Time& t : times) {
    char ms[32];
    std::snprintf(ms, sizeof ms, " %.3g ms", t.ms);
    s += (s.empty() ? "" : ", ") + std::string(conv_kernel_name(t.kernel)) + ms;
  }
  return s;
}

}  // namespace kiln::ops
