#include "ops/view.h"

#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

CopyKernel::CopyKernel(const memory::desc& input, const memory::desc& from, const memory::desc& to,
                       const memory::desc& output, const dnnl::engine& engine, bool may_alias)
    : input_(input), from_(from), to_(to), output_(output), engine_(engine),
      alias_(may_alias && from == to) {
  if (alias_) return;
  dnnl::reorder::primitive_desc pd(engine, from, engine, to, make_attr());
  reorder_ = dnnl::reorder(pd);
  scratchpad_ = pd.scratchpad_desc();
}

ExecArgs CopyKernel::bind(const std::vector<memory>& inputs, const memory& output,
                          const memory& scratchpad) const {
  if (alias_) return {};
  ExecArgs args;
  args[DNNL_ARG_FROM] = memory(from_, engine_, inputs.at(0).get_data_handle());
  args[DNNL_ARG_TO] = memory(to_, engine_, output.get_data_handle());
  if (scratchpad_.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
  return args;
}

void CopyKernel::execute(dnnl::stream& stream, const ExecArgs& args) const {
  if (!alias_) reorder_.execute(stream, args);
}

std::string CopyKernel::implementation() const {
  return alias_ ? "kiln:alias" : primitive_implementation(reorder_);
}

std::unique_ptr<Kernel> compile_c_order_copy(const ir::Node& node, const CompileContext& ctx,
                                             const ir::Shape& y) {
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const memory::desc& x = ctx.input_descs.at(0);
    return std::make_unique<CopyKernel>(x, x, plain_desc(node.inputs[0]->shape), plain_desc(y),
                                        ctx.engine, dies_here(ctx, 0));
  });
}

ReshapedKernel::ReshapedKernel(std::unique_ptr<Kernel> inner, std::vector<memory::desc> inputs,
                               const memory::desc& output, const dnnl::engine& engine)
    : inner_(std::move(inner)), inputs_(std::move(inputs)), output_(output), engine_(engine) {}

ExecArgs ReshapedKernel::bind(const std::vector<memory>& inputs, const memory& output,
                              const memory& scratchpad) const {
  std::vector<memory> inner_inputs;
  for (size_t i = 0; i < inputs.size(); ++i)
    inner_inputs.emplace_back(inner_->input_desc(i), engine_, inputs[i].get_data_handle());
  memory inner_output(inner_->output_desc(), engine_, output.get_data_handle());
  return inner_->bind(inner_inputs, inner_output, scratchpad);
}

// A convolution rebuilt from its own operation descriptor with only the
// destination changed, with the same attributes (post-ops). Kept only when
// oneDNN runs the same implementation on the same weight layout, so the
// packed weights stay valid and nothing gets slower.
std::unique_ptr<Kernel> PrimitiveKernel::writing_to(const memory::desc& output) const {
  const_dnnl_primitive_desc_t pd = primitive_.get_primitive_desc();
  const dnnl_convolution_desc_t* conv = nullptr;
  if (dnnl_primitive_desc_query(pd, dnnl_query_convolution_d, 0, &conv) != dnnl_success || !conv)
    return nullptr;
  if (output_arg_ != DNNL_ARG_DST) return nullptr;
  dnnl_convolution_desc_t changed = *conv;
  changed.dst_desc = output.data;
  const_dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_desc_get_attr(pd, &attr) != dnnl_success) return nullptr;
  dnnl_primitive_desc_t rebuilt = nullptr;
  if (dnnl_primitive_desc_create(&rebuilt, &changed, attr, cpu_engine().get(), nullptr) !=
      dnnl_success)
    return nullptr;
  // The C++ wrapper keeps a clone of a C handle, so the handle is ours to free.
  std::unique_ptr<dnnl_primitive_desc, decltype(&dnnl_primitive_desc_destroy)> owned(
      rebuilt, &dnnl_primitive_desc_destroy);
  dnnl::convolution_forward::primitive_desc new_pd(rebuilt);
  const dnnl_memory_desc_t* old_weights = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl::convolution_forward primitive(new_pd);
  if (!old_weights || primitive_implementation(primitive) != implementation_ ||
      new_pd.dst_desc() != output || new_pd.weights_desc() != memory::desc(*old_weights))
    return nullptr;
  return std::make_unique<PrimitiveKernel>(primitive, inputs_, output, new_pd.scratchpad_desc(),
                                           constants_, output_arg_);
}

}  // namespace kiln::ops
