// conv2d_add: a convolution plus a residual, then an optional activation; the
// closing three ops of a ResNet block (conv -> add -> relu) in one kernel.
//
//   y = act(conv2d(x, weight, bias) + residual),  act = the activation or identity
//
// inputs   x         activation [N, C, H, W]
//          residual  activation [N, OC, OH, OW], the conv's output shape
//          weight    parameter  [OC, C/G, KH, KW]
//          bias      parameter  [OC], optional
// output   y         [N, OC, OH, OW]
// attrs    stride, padding, dilation, groups as conv2d
//          activation  as conv2d ("none", "relu", "silu", ... with activation_<attr>),
//                      default "none"; applied after the add
//
// fuse_conv_add makes this op; it never comes from PyTorch. Two kernels:
// - in place (oneDNN sum post-op, dst = conv + dst): when this node is the
//   residual's last reader, the output takes the residual's buffer, which the
//   engine fills in the conv's dst layout (reordering the residual if its
//   producer wrote another). No extra read or write of the activation.
// - otherwise a binary add post-op reads the residual from its own buffer.
//   oneDNN 2.6's brgconv has no such post-op for full tensors, so this path
//   runs on an older jit kernel in a blocked layout: correct, but slower.
// Where choose_conv_algo (ops/conv_choice.h) picks Kiln's own Winograd
// (ops/winograd.h), its kernel takes both forms: it adds the residual (read
// from the output buffer, or from its own) in the output transform, before
// the relu; it applies no other activation,
// so with one the decision never picks it.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/activation.h"
#include "ops/common.h"
#include "ops/conv2d.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

// The node's convolution as a conv2d-shaped node (x, weight, bias?), with the
// same name, op and attributes, so conv2d's checks and builder apply to it.
static ir::Node conv_part(const ir::Node& node) {
  ir::Node conv;
  conv.name = node.name;
  conv.op = node.op;
  conv.attrs = node.attrs;
  conv.output = node.output;
  conv.inputs.push_back(node.inputs.at(0));
  for (size_t i = 2; i < node.inputs.size(); ++i) conv.inputs.push_back(node.inputs[i]);
  return conv;
}

static void validate(const ir::Node& node) {
  require_activation(node, 0, "x");
  require_activation(node, 1, "residual");
  require_param(node, 2, "weight");
  if (node.inputs.size() == 4) require_param(node, 3, "bias");
  ir::Node conv = conv_part(node);
  validate_conv2d(conv);
  ir::Shape y = conv2d_output_shape(conv);
  const ir::Value* residual = node.inputs[1];
  if (residual->shape != y)
    throw Error(node.where(), "residual '" + residual->name + "': expected the conv's output shape " +
                                  ir::shape_str(y) + ", got " + ir::shape_str(residual->shape));
}

static ir::Shape infer_shape(const ir::Node& node) { return conv2d_output_shape(conv_part(node)); }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  ir::Node conv = conv_part(node);
  // In place only if nothing reads the residual after this node, and x is not
  // the residual itself (the conv would read what it overwrites).
  const bool in_place = ctx.last_use.size() == 2 && ctx.last_use[1] &&
                        node.inputs[0] != node.inputs[1];
  const std::string activation = ir::attr_string(node, "activation", "none");
  dnnl::post_ops post_ops = with_node(node, [&] {
    dnnl::post_ops p;
    if (in_place) {
      p.append_sum(1.f);
    } else {
      const memory::desc& r = ctx.input_descs.at(1);
      // format_tag::any: oneDNN gives the residual the dst's layout.
      p.append_binary(dnnl::algorithm::binary_add,
                      memory::desc(r.dims(), memory::data_type::f32, memory::format_tag::any));
    }
    append_activation(p, post_op_activation_steps(node));
    return p;
  });

  WinogradEpilogue epilogue;
  epilogue.residual =
      in_place ? WinogradEpilogue::Residual::in_place : WinogradEpilogue::Residual::input;
  epilogue.relu = activation == "relu";
  // Kiln's Winograd epilogue does relu only: another activation runs oneDNN's.
  const bool epilogue_fits = activation == "relu" || activation == "none";
  return compile_conv(conv, ctx, post_ops, epilogue_fits, epilogue);
}

void register_conv2d_add(Registry& r) {
  ir::OpSchema schema{3, 4, validate, infer_shape};
  schema.takes_activations = activation_names();
  r.add({"conv2d_add", schema, compile});
}

}  // namespace kiln::ops
