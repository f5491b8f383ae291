// add: y = a + b, elementwise, for the residual connections of ResNets.
//
// inputs   a  activation, any shape
//          b  activation, the same shape as a (no broadcasting)
// output   y  same shape as a
// attrs    none
//
// Runs in a's layout and asks for b in the same one (the engine reorders b
// only if its producer wrote another), so blocked activations stay blocked.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {});
  require_activation(node, 0, "a");
  require_activation(node, 1, "b");
  const ir::Value* a = node.inputs[0];
  const ir::Value* b = node.inputs[1];
  if (a->shape != b->shape)
    throw Error(node.where(), "inputs must have the same shape, got a '" + a->name + "' " +
                                  ir::shape_str(a->shape) + " and b '" + b->name + "' " +
                                  ir::shape_str(b->shape));
}

static ir::Shape infer_shape(const ir::Node& node) { return node.inputs[0]->shape; }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return with_node(node, [&] {
    const dnnl::memory::desc& a = ctx.input_descs.at(0);
    dnnl::memory::desc y(a.dims(), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, a, a, y);
    dnnl::binary::primitive_desc pd(desc, make_attr(), ctx.engine);
    return std::make_unique<PrimitiveKernel>(
        dnnl::binary(pd),
        std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC_0, pd.src0_desc()},
                                            {DNNL_ARG_SRC_1, pd.src1_desc()}},
        pd.dst_desc(), pd.scratchpad_desc(), ExecArgs{});
  });
}

void register_add(Registry& r) { r.add({"add", {2, 2, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
