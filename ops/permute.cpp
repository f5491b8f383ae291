// permute: reorders the dimensions, as torch.permute / transpose.
//
//   y.shape[i] = x.shape[dims[i]]
//   y[j_0, ..., j_r-1] = x[i_0, ..., i_r-1] where i_dims[k] = j_k
//
// inputs   x  activation, rank 1 to 6
// output   y  the permuted shape, plain (C order)
// attrs    dims  list of ints: a permutation of 0..rank-1 (negative counts from
//                the end)  required; dims[0] must stay 0 when the batch is symbolic
//
// One oneDNN reorder from x's layout (blocked or plain) into the output
// buffer seen with x's dims and permuted strides: y's C order walked in x's
// dims. When x's layout already is that view (x in nhwc, y = x.permute(0, 2,
// 3, 1)) and x dies here, nothing is copied: the output takes x's buffer.
#include <algorithm>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

// dims with negatives resolved, or a kiln::Error naming the node.
static std::vector<size_t> read_dims(const ir::Node& node) {
  const size_t rank = node.inputs[0]->shape.size();
  if (!node.attrs.count("dims")) throw Error(node.where(), "attribute 'dims' is required");
  const std::vector<int64_t> dims = ir::attr_ints(node, "dims", {});
  if (dims.size() != rank)
    throw Error(node.where(), "attribute 'dims' " + ir::attr_str(dims) + ": expected " +
                                  std::to_string(rank) + " dims, one per dim of x (shape " +
                                  ir::shape_str(node.inputs[0]->shape) + ")");
  std::vector<size_t> out;
  for (int64_t d : dims) {
    size_t axis = normalize_axis(node, "dims", d, rank);
    if (std::find(out.begin(), out.end(), axis) != out.end())
      throw Error(node.where(), "attribute 'dims' " + ir::attr_str(dims) + ": dim " +
                                    std::to_string(axis) + " is repeated, expected a permutation");
    out.push_back(axis);
  }
  return out;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"dims"});
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  std::vector<size_t> dims = read_dims(node);
  if (node.inputs[0]->shape[0] == ir::kBatch && dims[0] != 0)
    throw Error(node.where(), "attribute 'dims' " + ir::attr_str(node.attrs.at("dims")) +
                                  ": would move the symbolic batch of x '" +
                                  node.inputs[0]->name + "' out of dim 0");
}

static ir::Shape infer_shape(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  ir::Shape y;
  for (size_t d : read_dims(node)) y.push_back(x[d]);
  return y;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  const ir::Shape y = infer_shape(node);
  const std::vector<size_t> dims = read_dims(node);
  // y's C-order strides, given to the x dim each y dim comes from.
  dnnl::memory::dims view_strides(x.size());
  int64_t stride = 1;
  for (size_t i = y.size(); i-- > 0;) {
    view_strides[dims[i]] = stride;
    stride *= y[i];
  }
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const dnnl::memory::desc& in = ctx.input_descs.at(0);
    dnnl::memory::desc view(to_dims(x), dnnl::memory::data_type::f32, view_strides);
    return std::make_unique<CopyKernel>(in, in, view, plain_desc(y), ctx.engine,
                                        dies_here(ctx, 0));
  });
}

void register_permute(Registry& r) { r.add({"permute", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
