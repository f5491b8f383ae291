// mean: the average over some dims, as x.mean(dims, keepdim).
//
//   y[i] = sum over the reduced dims of x[i, ...] / (product of their sizes)
//
// inputs   x  activation, rank 1 to 6
// output   y  x's shape with the reduced dims set to 1 (keepdim = 1) or removed (keepdim = 0)
// attrs    dims     list of ints  required; unique, at least one; negative counts from the end
//          keepdim  int 0/1       default 0
//
// Over dims [2, 3] of a rank-4 x (x.mean((2, 3)), the classifier head of
// MobileNet and EfficientNet) it is an average pooling whose kernel is the
// whole plane, in the layout x arrives in, as global_avg_pool2d; any other
// dims run oneDNN's reduction_mean. Without keepdim the output is the same
// bytes seen without the reduced dims. A mean over dims of size 1 only copies.
#include <algorithm>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/pool2d.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

using dnnl::memory;

// For each dim of x: reduced or not. Throws a kiln::Error naming the node.
static std::vector<bool> read_reduced(const ir::Node& node) {
  const size_t rank = node.inputs[0]->shape.size();
  if (!node.attrs.count("dims")) throw Error(node.where(), "attribute 'dims' is required");
  const std::vector<int64_t> dims = ir::attr_ints(node, "dims", {});
  if (dims.empty()) throw Error(node.where(), "attribute 'dims': expected at least one dim, got []");
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims) {
    size_t axis = normalize_axis(node, "dims", d, rank);
    if (reduced[axis])
      throw Error(node.where(), "attribute 'dims' " + ir::attr_str(dims) + ": dim " +
                                    std::to_string(axis) + " is repeated");
    reduced[axis] = true;
  }
  return reduced;
}

static bool read_keepdim(const ir::Node& node) {
  int64_t v = ir::attr_int(node, "keepdim", 0);
  if (v != 0 && v != 1)
    throw Error(node.where(), "attribute 'keepdim': expected 0 or 1, got " + std::to_string(v));
  return v == 1;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"dims", "keepdim"});
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  read_reduced(node);
  read_keepdim(node);
}

// x's shape with the reduced dims 1 (keepdim) or gone.
static ir::Shape reduce_shape(const ir::Node& node, bool keepdim) {
  const ir::Shape& x = node.inputs[0]->shape;
  const std::vector<bool> reduced = read_reduced(node);
  ir::Shape y;
  for (size_t d = 0; d < x.size(); ++d) {
    if (!reduced[d]) y.push_back(x[d]);
    else if (keepdim) y.push_back(1);
  }
  if (y.empty()) y.push_back(1);  // the mean of everything: a one-element tensor
  return y;
}

static ir::Shape infer_shape(const ir::Node& node) {
  return reduce_shape(node, read_keepdim(node));
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const ir::Shape& x = node.inputs[0]->shape;
  const std::vector<bool> reduced = read_reduced(node);
  const bool keepdim = read_keepdim(node);
  const memory::dims kept = to_dims(reduce_shape(node, true));
  const memory::dims y = to_dims(infer_shape(node));
  bool only_ones = true;
  for (size_t d = 0; d < x.size(); ++d) only_ones = only_ones && (!reduced[d] || x[d] == 1);
  const bool plane = x.size() == 4 && reduced == std::vector<bool>{false, false, true, true};
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    const memory::desc& in = ctx.input_descs.at(0);
    if (only_ones)
      return std::make_unique<CopyKernel>(in, in, plain_desc(x), plain_desc(infer_shape(node)),
                                          ctx.engine, dies_here(ctx, 0));
    std::unique_ptr<Kernel> kernel;
    if (plane) {
      kernel = compile_pool2d(node, ctx, unpadded_pool2d(x[2], x[3], x[2], x[3]),
                              dnnl::algorithm::pooling_avg_exclude_padding);
    } else {
      // Without keepdim the result is read plain: a blocked dim of size 1 would be padded.
      memory::desc dst = keepdim ? memory::desc(kept, memory::data_type::f32, memory::format_tag::any)
                                 : plain_desc(ir::Shape(kept.begin(), kept.end()));
      dnnl::reduction::desc desc(dnnl::algorithm::reduction_mean, in, dst, 0.f, 0.f);
      dnnl::reduction::primitive_desc pd(desc, make_attr(), ctx.engine);
      kernel = std::make_unique<PrimitiveKernel>(
          dnnl::reduction(pd), std::vector<PrimitiveKernel::Input>{{DNNL_ARG_SRC, in}},
          pd.dst_desc(), pd.scratchpad_desc(), ExecArgs{});
    }
    if (keepdim) return kernel;
    // The same bytes without the reduced dims; a pooling output [N, C, 1, 1]
    // drops H and W in any activation layout (only C is ever blocked).
    memory::desc out = kernel->output_desc().reshape(y);
    return std::make_unique<ReshapedKernel>(std::move(kernel), std::vector<memory::desc>{in}, out,
                                            ctx.engine);
  });
}

void register_mean(Registry& r) { r.add({"mean", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
