#include "ops/registry.h"

#include "ir/error.h"

namespace kiln::ops {

// One per op file in ops/.
void register_adaptive_avg_pool2d(Registry& r);
void register_add(Registry& r);
void register_avg_pool2d(Registry& r);
void register_batchnorm(Registry& r);
void register_channel_shuffle(Registry& r);
void register_clamp(Registry& r);
void register_concat(Registry& r);
void register_concat_batchnorm(Registry& r);
void register_conv2d(Registry& r);
void register_conv2d_add(Registry& r);
void register_div(Registry& r);
void register_elu(Registry& r);
void register_flatten(Registry& r);
void register_gelu(Registry& r);
void register_global_avg_pool2d(Registry& r);
void register_hardsigmoid(Registry& r);
void register_hardswish(Registry& r);
void register_layer_norm(Registry& r);
void register_leaky_relu(Registry& r);
void register_linear(Registry& r);
void register_max_pool2d(Registry& r);
void register_mean(Registry& r);
void register_mul(Registry& r);
void register_permute(Registry& r);
void register_relu(Registry& r);
void register_reshape(Registry& r);
void register_sigmoid(Registry& r);
void register_silu(Registry& r);
void register_slice(Registry& r);
void register_squeeze_excite(Registry& r);
void register_sub(Registry& r);
void register_tanh(Registry& r);

static Registry build_registry() {
  Registry r;
  register_adaptive_avg_pool2d(r);
  register_add(r);
  register_avg_pool2d(r);
  register_batchnorm(r);
  register_channel_shuffle(r);
  register_clamp(r);
  register_concat(r);
  register_concat_batchnorm(r);
  register_conv2d(r);
  register_conv2d_add(r);
  register_div(r);
  register_elu(r);
  register_flatten(r);
  register_gelu(r);
  register_global_avg_pool2d(r);
  register_hardsigmoid(r);
  register_hardswish(r);
  register_layer_norm(r);
  register_leaky_relu(r);
  register_linear(r);
  register_max_pool2d(r);
  register_mean(r);
  register_mul(r);
  register_permute(r);
  register_relu(r);
  register_reshape(r);
  register_sigmoid(r);
  register_silu(r);
  register_slice(r);
  register_squeeze_excite(r);
  register_sub(r);
  register_tanh(r);
  return r;
}

const Registry& registry() {
  static const Registry r = build_registry();
  return r;
}

void Registry::add(OpDef def) {
  if (defs_.count(def.name)) throw Error("op registry: '" + def.name + "' registered twice");
  schemas_[def.name] = def.schema;
  std::string name = def.name;
  defs_.emplace(std::move(name), std::move(def));
}

const OpDef* Registry::find(const std::string& name) const {
  auto it = defs_.find(name);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, def] : defs_) out.push_back(name);
  return out;
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

}  // namespace kiln::ops
