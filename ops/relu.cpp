// relu: y = max(x, 0), elementwise.
//
// inputs   x  activation, any shape
// output   y  same shape as x
// attrs    none
//
// Runs in whatever layout x arrives in (blocked or plain), so it never forces
// a reorder.
#include "ir/attrs.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {});
  require_activation(node, 0, "x");
}

static ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return with_node(node, [&] {
    const dnnl::memory::desc& x = ctx.input_descs.at(0);
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::eltwise_relu, x, 0.f);
    dnnl::eltwise_forward::primitive_desc pd(desc, make_attr(), ctx.engine);
    return std::make_unique<PrimitiveKernel>(dnnl::eltwise_forward(pd),
                                             std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, x}},
                                             pd.dst_desc(), pd.scratchpad_desc(), ExecArgs{});
  });
}

void register_relu(Registry& r) { r.add({"relu", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
