// flatten: merges dimensions start_dim..end into one, as torch.flatten(x, start_dim).
//
//   y = reshape(x, [x.shape[0], ..., x.shape[start_dim - 1], prod(x.shape[start_dim:])])
//
// inputs   x  activation, rank 1 to 6
// output   y  rank start_dim + 1, the same elements in C order
// attrs    start_dim  int  default 1; negative counts from the end (-1 is the last dim);
//                     0 only when the batch is fixed, not symbolic
//
// A reshape is only defined on C-ordered data, but x may arrive blocked (a
// pooling output in nChw16c). Rather than have the engine reorder x to plain
// and then copy, the kernel runs one oneDNN reorder from x's layout straight
// into the output buffer, seen as a plain tensor of x's shape. So flatten
// accepts any input layout and its output is always plain. When x is plain
// already and dies here, the output is x's buffer: nothing is copied.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

// start_dim in [0, rank), or a kiln::Error naming the node.
static size_t read_start_dim(const ir::Node& node) {
  return normalize_axis(node, "start_dim", ir::attr_int(node, "start_dim", 1),
                        node.inputs[0]->shape.size());
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"start_dim"});
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  const ir::Shape& x = node.inputs[0]->shape;
  size_t start = read_start_dim(node);
  if (start == 0 && x[0] == ir::kBatch)
    throw Error(node.where(), "attribute 'start_dim': 0 would merge the symbolic batch of x '" +
                                  node.inputs[0]->name + "' " + ir::shape_str(x) +
                                  " into the other dimensions");
}

static ir::Shape infer_shape(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  size_t start = read_start_dim(node);
  ir::Shape y(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(start));
  int64_t merged = 1;
  for (size_t d = start; d < x.size(); ++d) merged *= x[d];
  y.push_back(merged);
  return y;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return compile_c_order_copy(node, ctx, infer_shape(node));
}

void register_flatten(Registry& r) { r.add({"flatten", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
