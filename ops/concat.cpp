// concat: joins tensors along one axis, as torch.cat(xs, axis).
//
//   y[..., o_k + j, ...] = x_k[..., j, ...]   along `axis`, o_k = sum of x_i.shape[axis] for i < k
//
// inputs   x_0, x_1, ...  1 or more activations or parameters (at least one activation), of
//                         one rank (1 to 6), shapes equal except along `axis`
// output   y              that shape with dim `axis` = the sum over the inputs
// attrs    axis  int  required; negative counts from the end; not the symbolic batch
//
// oneDNN's concat primitive, reading every input in the layout it arrives in
// and writing y in a layout oneDNN picks from them (format_tag::any: the
// first blocked input's, e.g. nChw16c, else a plain one's). A channel concat
// of nChw16c inputs whose channel counts are multiples of 16 is then a copy
// of whole blocks, and y stays blocked for the convs that read it.
// Parameters (a learned tensor concatenated to activations) are packed once.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace kiln::ops {

// Inputs a concat takes at most (DenseNet-201's largest joins 49).
constexpr size_t kMaxConcatInputs = 1024;

static size_t read_axis(const ir::Node& node) {
  if (!node.attrs.count("axis")) throw Error(node.where(), "attribute 'axis' is required");
  return normalize_axis(node, "axis", ir::attr_int(node, "axis", 0),
                        node.inputs[0]->shape.size(), "the inputs");
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"axis"});
  bool any_activation = false;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    require_rank_1_to_max(node, i, "input " + std::to_string(i));
    any_activation = any_activation || !node.inputs[i]->is_param();
  }
  if (!any_activation)
    throw Error(node.where(), "expected at least one activation input, got only parameters");
  const size_t axis = read_axis(node);
  const ir::Value* first = node.inputs[0];
  for (const ir::Value* in : node.inputs) {
    // Ranks first: `axis` was checked against the first input's rank only.
    bool same = in->shape.size() == first->shape.size();
    if (same && in->shape[axis] == ir::kBatch)
      throw Error(node.where(), "attribute 'axis': cannot concatenate along the symbolic batch of '" +
                                    in->name + "' " + ir::shape_str(in->shape));
    for (size_t d = 0; same && d < first->shape.size(); ++d)
      same = d == axis || in->shape[d] == first->shape[d];
    if (!same)
      throw Error(node.where(), "inputs must have equal shapes except along dim " +
                                    std::to_string(axis) + ", got '" + first->name + "' " +
                                    ir::shape_str(first->shape) + " and '" + in->name + "' " +
                                    ir::shape_str(in->shape));
  }
}

static ir::Shape infer_shape(const ir::Node& node) {
  const size_t axis = read_axis(node);
  ir::Shape y = node.inputs[0]->shape;
  y[axis] = 0;
  for (const ir::Value* in : node.inputs) y[axis] += in->shape[axis];
  return y;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const int axis = static_cast<int>(read_axis(node));
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    // Sources in the node's order: activations as they arrive, parameters plain.
    std::vector<dnnl::memory::desc> srcs;
    std::vector<PrimitiveKernel::Input> activations;
    for (const ir::Value* in : node.inputs) {
      const int arg = DNNL_ARG_MULTIPLE_SRC + static_cast<int>(srcs.size());
      if (in->is_param()) {
        srcs.push_back(plain_desc(in->shape));
      } else {
        srcs.push_back(ctx.input_descs.at(activations.size()));
        activations.push_back({arg, srcs.back()});
      }
    }
    dnnl::memory::desc y(to_dims(infer_shape(node)), dnnl::memory::data_type::f32,
                         dnnl::memory::format_tag::any);
    dnnl::concat::primitive_desc pd(y, axis, srcs, ctx.engine, make_attr());
    Constants constants;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i]->is_param())
        pack_param(constants, DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), *node.inputs[i]->data,
                   srcs[i]);
    }
    return std::make_unique<PrimitiveKernel>(dnnl::concat(pd), std::move(activations),
                                             pd.dst_desc(), pd.scratchpad_desc(),
                                             std::move(constants));
  });
}

void register_concat(Registry& r) {
  r.add({"concat", {1, kMaxConcatInputs, validate, infer_shape}, compile});
}

}  // namespace kiln::ops
