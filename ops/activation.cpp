#include "ops/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"

namespace kiln::ops {

using dnnl::algorithm;
using Steps = std::vector<EltwiseStep>;

namespace {

// One activation's attributes on a node, read under a prefix.
class AttrReader {
 public:
  AttrReader(const ir::Node& node, const std::string& prefix) : node_(node), prefix_(prefix) {}

  std::string key(const std::string& attr) const { return "'" + prefix_ + attr + "'"; }
  // The attribute's value as written, for errors.
  std::string shown(const std::string& attr) const {
    return ir::attr_str(node_.attrs.at(prefix_ + attr));
  }

  // A real attribute as float32: nullopt when absent; throws when it is not
  // a finite float32 number (an exporter's inf or 1e39 would make every
  // output inf or NaN).
  std::optional<float> real(const std::string& attr) const {
    const std::string name = prefix_ + attr;
    if (!node_.attrs.count(name)) return std::nullopt;
    const double v = ir::attr_real(node_, name, 0.0);
    if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<float>::max())
      throw Error(node_.where(), "attribute " + key(attr) +
                                     ": expected a finite float32 number, got " + shown(attr));
    return static_cast<float>(v);
  }

  float real(const std::string& attr, float fallback) const {
    return real(attr).value_or(fallback);
  }

  std::string string(const std::string& attr, const std::string& fallback) const {
    return ir::attr_string(node_, prefix_ + attr, fallback);
  }

  const ir::Node& node() const { return node_; }

 private:
  const ir::Node& node_;
  std::string prefix_;
};

Steps clamp_steps(const AttrReader& r) {
  std::optional<float> lo = r.real("min"), hi = r.real("max");
  if (!lo && !hi)
    throw Error(r.node().where(), "clamp needs attribute " + r.key("min") + " or " + r.key("max") +
                                      ", got neither");
  if (lo && hi && *lo > *hi)
    throw Error(r.node().where(), "attributes " + r.key("min") + " and " + r.key("max") +
                                      ": expected min <= max, got " + r.shown("min") + " > " +
                                      r.shown("max"));
  // An absent bound is infinite: clip leaves that side as it is, inf included.
  const float inf = std::numeric_limits<float>::infinity();
  return {{algorithm::eltwise_clip, lo.value_or(-inf), hi.value_or(inf)}};
}

Steps gelu_steps(const AttrReader& r) {
  std::string approximate = r.string("approximate", "none");
  if (approximate == "none") return {{algorithm::eltwise_gelu_erf}};
  if (approximate == "tanh") return {{algorithm::eltwise_gelu_tanh}};
  throw Error(r.node().where(), "attribute " + r.key("approximate") +
                                    ": expected \"none\" or \"tanh\", got \"" + approximate +
                                    "\"");
}

struct Activation {
  std::string name;
  std::vector<std::string> attrs;
  Steps (*steps)(const AttrReader&);
};

const std::vector<Activation>& table() {
  static const std::vector<Activation> t = {
      {"relu", {}, [](const AttrReader&) -> Steps { return {{algorithm::eltwise_relu}}; }},
      {"clamp", {"min", "max"}, clamp_steps},
      {"sigmoid", {}, [](const AttrReader&) -> Steps { return {{algorithm::eltwise_logistic}}; }},
      {"silu", {}, [](const AttrReader&) -> Steps { return {{algorithm::eltwise_swish, 1.f}}; }},
      {"hardswish", {},
       [](const AttrReader&) -> Steps { return {{algorithm::eltwise_hardswish}}; }},
      // clamp(x / 6 + 1/2, 0, 1)
      {"hardsigmoid", {},
       [](const AttrReader&) -> Steps {
         return {{algorithm::eltwise_linear, 1.f / 6.f, 0.5f}, {algorithm::eltwise_clip, 0.f, 1.f}};
       }},
      {"tanh", {}, [](const AttrReader&) -> Steps { return {{algorithm::eltwise_tanh}}; }},
      {"gelu", {"approximate"}, gelu_steps},
      {"leaky_relu", {"negative_slope"},
       [](const AttrReader& r) -> Steps {
         return {{algorithm::eltwise_relu, r.real("negative_slope", 0.01f)}};
       }},
      {"elu", {"alpha"},
       [](const AttrReader& r) -> Steps {
         return {{algorithm::eltwise_elu, r.real("alpha", 1.f)}};
       }},
  };
  return t;
}

const Activation* find(const std::string& name) {
  for (const Activation& a : table()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Activation& a : table()) out.push_back(a.name);
    return out;
  }();
  return names;
}

bool is_activation(const std::string& name) { return find(name) != nullptr; }

const std::vector<std::string>& activation_attrs(const std::string& name) {
  const Activation* a = find(name);
  if (!a) throw Error("activation_attrs: unknown activation '" + name + "'");
  return a->attrs;
}

std::vector<EltwiseStep> activation_steps(const ir::Node& node, const std::string& name,
                                          const std::string& prefix) {
  const Activation* a = find(name);
  if (!a) throw Error(node.where(), "unknown activation '" + name + "'");
  return a->steps(AttrReader(node, prefix));
}

// --- the post-op form ------------------------------------------------------------

static const char* const kPostOpPrefix = "activation_";

std::vector<std::string> post_op_activation_attr_names(const std::string& outer) {
  std::vector<std::string> names = {outer + "activation"};
  for (const Activation& a : table()) {
    for (const std::string& attr : a.attrs) {
      std::string name = outer + kPostOpPrefix + attr;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

std::vector<EltwiseStep> post_op_activation_steps(const ir::Node& node, const std::string& outer) {
  const std::string name = ir::attr_string(node, outer + "activation", "none");
  const Activation* a = find(name);
  if (name != "none" && !a) {
    std::string known = "\"none\"";
    for (const std::string& n : activation_names()) known += ", \"" + n + "\"";
    throw Error(node.where(), "attribute '" + outer + "activation': expected one of " + known +
                                  ", got \"" + name + "\"");
  }
  const std::string prefix = outer + kPostOpPrefix;
  for (const auto& [key, value] : node.attrs) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string attr = key.substr(prefix.size());
    if (!a || std::find(a->attrs.begin(), a->attrs.end(), attr) == a->attrs.end())
      throw Error(node.where(), "attribute '" + key + "' does not apply to activation \"" + name +
                                    "\"");
  }
  return a ? a->steps(AttrReader(node, prefix)) : Steps{};
}

void append_activation(dnnl::post_ops& post_ops, const std::vector<EltwiseStep>& steps) {
  for (const EltwiseStep& s : steps) post_ops.append_eltwise(1.f, s.alg, s.alpha, s.beta);
}

// --- the standalone op -------------------------------------------------------------

namespace {

// Several eltwise primitives in a row: the first reads x and writes y, the
// others run in place on y. oneDNN 2.6 runs an eltwise primitive with an
// eltwise post-op on its reference kernel only, which is far slower than two
// jit passes: hardsigmoid on [1, 96, 56, 56] nChw16c took 19 ms against
// 0.045 ms (one thread, median of 200, on a shared machine).
class EltwiseChainKernel : public Kernel {
 public:
  EltwiseChainKernel(std::vector<dnnl::eltwise_forward::primitive_desc> pds,
                     dnnl::memory::desc x)
      : x_(std::move(x)) {
    for (const auto& pd : pds) {
      primitives_.emplace_back(pd);
      if (pd.scratchpad_desc().get_size() > scratchpad_.get_size())
        scratchpad_ = pd.scratchpad_desc();
      implementation_ += (implementation_.empty() ? "" : " + ") + std::string(pd.impl_info_str());
    }
  }

  dnnl::memory::desc input_desc(size_t) const override { return x_; }
  dnnl::memory::desc output_desc() const override { return x_; }
  dnnl::memory::desc scratchpad_desc() const override { return scratchpad_; }

  ExecArgs bind(const std::vector<dnnl::memory>& inputs, const dnnl::memory& output,
                const dnnl::memory& scratchpad) const override {
    ExecArgs args = {{DNNL_ARG_SRC, inputs.at(0)}, {DNNL_ARG_DST, output}};
    if (scratchpad_.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    primitives_[0].execute(stream, args);
    ExecArgs in_place = args;
    in_place[DNNL_ARG_SRC] = args.at(DNNL_ARG_DST);
    for (size_t i = 1; i < primitives_.size(); ++i) primitives_[i].execute(stream, in_place);
  }

  std::string implementation() const override { return implementation_; }
  bool can_overwrite_input(size_t i) const override { return i == 0; }

 private:
  std::vector<dnnl::eltwise_forward> primitives_;
  dnnl::memory::desc x_;
  dnnl::memory::desc scratchpad_;
  std::string implementation_;
};

}  // namespace

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, activation_attrs(node.op));
  require_activation(node, 0, "x");
  activation_steps(node, node.op, "");
}

static ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const Steps steps = activation_steps(node, node.op, "");
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const dnnl::memory::desc& x = ctx.input_descs.at(0);
    std::vector<dnnl::eltwise_forward::primitive_desc> pds;
    for (const EltwiseStep& s : steps) {
      dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, s.alg, x, s.alpha,
                                       s.beta);
      pds.emplace_back(desc, make_attr(), ctx.engine);
    }
    if (pds.size() > 1) return std::make_unique<EltwiseChainKernel>(pds, x);
    const auto& pd = pds[0];
    auto kernel = std::make_unique<PrimitiveKernel>(
        dnnl::eltwise_forward(pd), std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, x}},
        pd.dst_desc(), pd.scratchpad_desc(), ExecArgs{});
    kernel->allow_overwriting_input(0);
    return kernel;
  });
}

OpDef activation_op(const std::string& name) {
  if (!is_activation(name)) throw Error("activation_op: unknown activation '" + name + "'");
  ir::OpSchema schema{1, 1, validate, infer_shape};
  schema.post_op_activation = true;
  schema.post_op_attrs = activation_attrs(name);
  return {name, schema, compile};
}

}  // namespace kiln::ops
