#include "ops/conv_algo.h"

namespace kiln::ops {

static constexpr ConvAlgo kAll[] = {ConvAlgo::direct, ConvAlgo::winograd, ConvAlgo::kiln_winograd,
                                    ConvAlgo::auto_};

const char* conv_algo_name(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::direct: return "direct";
    case ConvAlgo::winograd: return "winograd";
    case ConvAlgo::kiln_winograd: return "kiln-winograd";
    case ConvAlgo::auto_: return "auto";
  }
  return "?";
}

std::optional<ConvAlgo> conv_algo_from_name(const std::string& name) {
  for (ConvAlgo algo : kAll) {
    if (name == conv_algo_name(algo)) return algo;
  }
  return std::nullopt;
}

std::string conv_algo_names() {
  std::string names;
  const size_t n = sizeof kAll / sizeof kAll[0];
  for (size_t i = 0; i < n; ++i) {
    names += i == 0 ? "" : i + 1 == n ? " or " : ", ";
    names += conv_algo_name(kAll[i]);
  }
  return names;
}

}  // namespace kiln::ops
