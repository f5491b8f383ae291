// slice: one contiguous range along one axis, as x[..., start:end, ...]
// (torch narrow / getitem; chunk and split export as one slice per piece).
//
//   y[..., j, ...] = x[..., start + j, ...]   for 0 <= j < end - start, along `axis`
//
// inputs   x  activation, rank 1 to 6
// output   y  x's shape with dim `axis` = end - start
// attrs    axis   int  required; negative counts from the end; not the symbolic batch
//          start  int  required; negative counts from the end of the axis
//          end    int  required; likewise; 0 <= start < end <= x.shape[axis] once resolved
//
// One oneDNN reorder from the sub-memory of x (x's layout, offset to the
// range) into y. y keeps x's layout where the range can be cut from it: any
// range of a plain or nhwc x, a channel range of nChw16c starting on a
// multiple of 16 (and ending on one, or at the last channel). Otherwise x is
// asked for in plain layout, which the engine reorders once however many
// slices read it.
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

struct SliceRange {
  size_t axis;
  int64_t start, end;
};

static int64_t required_int(const ir::Node& node, const std::string& key) {
  if (!node.attrs.count(key)) throw Error(node.where(), "attribute '" + key + "' is required");
  return ir::attr_int(node, key, 0);
}

// The range with negatives resolved, or a kiln::Error naming the node.
static SliceRange read_range(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  SliceRange r;
  r.axis = normalize_axis(node, "axis", required_int(node, "axis"), x.size());
  const int64_t start = required_int(node, "start"), end = required_int(node, "end");
  if (x[r.axis] == ir::kBatch)
    throw Error(node.where(), "attribute 'axis': cannot slice the symbolic batch of x '" +
                                  node.inputs[0]->name + "' " + ir::shape_str(x));
  const int64_t size = x[r.axis];
  r.start = start < 0 ? start + size : start;
  r.end = end < 0 ? end + size : end;
  if (r.start < 0 || r.start >= r.end || r.end > size)
    throw Error(node.where(), "start " + std::to_string(start) + ", end " + std::to_string(end) +
                                  ": expected 0 <= start < end <= " + std::to_string(size) +
                                  " (dim " + std::to_string(r.axis) + " of x '" +
                                  node.inputs[0]->name + "' " + ir::shape_str(x) +
                                  ") once negatives count from the end");
  return r;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"axis", "start", "end"});
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  read_range(node);
}

static ir::Shape infer_shape(const ir::Node& node) {
  SliceRange r = read_range(node);
  ir::Shape y = node.inputs[0]->shape;
  y[r.axis] = r.end - r.start;
  return y;
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const SliceRange r = read_range(node);
  const dnnl::memory::dims y = to_dims(infer_shape(node));
  dnnl::memory::dims offsets(y.size(), 0);
  offsets[r.axis] = r.start;
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    dnnl::memory::desc x = ctx.input_descs.at(0);
    dnnl::memory::desc from = x.submemory_desc(y, offsets, /*allow_empty=*/true);
    if (from.is_zero()) {  // the range cuts through x's blocks: read x plain
      x = plain_desc(node.inputs[0]->shape);
      from = x.submemory_desc(y, offsets);
    }
    dnnl::memory::desc out = same_layout(x, y);
    return std::make_unique<CopyKernel>(x, from, out, out, ctx.engine,
                                        dies_here(ctx, 0));
  });
}

void register_slice(Registry& r) { r.add({"slice", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
