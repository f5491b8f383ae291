// Every activation with each attribute form: one list for the standalone ops'
// tests, the post-op tests of conv2d, conv2d_add, linear and batchnorm, and the
// fuse_conv_activation pass tests.
#pragma once

#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/graph.h"

namespace kiln::test {

struct ActivationCase {
  std::string op;
  ir::Attrs attrs;  // unprefixed, as on the standalone op
  double rtol;      // against the double reference; transcendental ones run on approximations
};

inline const std::vector<ActivationCase>& activation_cases() {
  static const std::vector<ActivationCase> c = {
      {"relu", {}, 0},
      {"clamp", {{"min", 0.0}, {"max", 6.0}}, 0},
      {"clamp", {{"min", int64_t{-1}}}, 0},
      {"clamp", {{"max", 0.25}}, 0},
      {"sigmoid", {}, 1e-6},
      {"silu", {}, 1e-6},
      {"hardswish", {}, 1e-6},
      {"hardsigmoid", {}, 1e-6},
      {"tanh", {}, 1e-6},
      {"gelu", {}, 1e-6},
      {"gelu", {{"approximate", std::string("tanh")}}, 1e-6},
      {"leaky_relu", {}, 1e-6},
      {"leaky_relu", {{"negative_slope", 0.2}}, 1e-6},
      {"elu", {}, 1e-6},
      {"elu", {{"alpha", 0.5}}, 1e-6},
  };
  return c;
}

// "clamp min=0 max=6", for CAPTURE.
inline std::string case_name(const ActivationCase& c) {
  std::string s = c.op;
  for (const auto& [key, value] : c.attrs) s += " " + key + "=" + ir::attr_str(value);
  return s;
}

// The case as post-op attributes of a fused op: activation = op, each
// attribute as activation_<attr>, added to `attrs`.
inline ir::Attrs with_activation(ir::Attrs attrs, const ActivationCase& c) {
  attrs["activation"] = c.op;
  for (const auto& [key, value] : c.attrs) attrs["activation_" + key] = value;
  return attrs;
}

}  // namespace kiln::test
