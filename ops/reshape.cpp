// reshape: the same elements in C order under another shape, as ONNX Reshape
// (torch view / reshape / flatten that is not a plain flatten).
//
//   y = x's elements in C order, laid out with shape s, where s[i] =
//       shape[i]       if shape[i] >= 1
//       x.shape[i]     if shape[i] == 0 (copies x's dim at that index: the symbolic batch)
//       inferred       if shape[i] == -1 (at most one), so that numel(y) == numel(x)
//
// inputs   x  activation, rank 1 to 6
// output   y  rank len(shape), 1 to 6
// attrs    shape  list of ints >= -1  required
//
// With a symbolic batch N in x, y's dim 0 must be N: either shape[0] == 0, or
// shape[0] == -1 and the other dims hold one sample exactly (x.view(-1, 512)
// of a [N, 512, 1, 1] x). Like flatten, the kernel is one reorder from x's
// layout into the output buffer seen as plain x; a plain x that dies here is
// not copied at all (the output takes its buffer).
#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "ops/view.h"

namespace kiln::ops {

// y's shape, or a kiln::Error naming the node. Works on symbolic and bound shapes.
static ir::Shape reshaped(const ir::Node& node) {
  const ir::Shape& x = node.inputs[0]->shape;
  if (!node.attrs.count("shape")) throw Error(node.where(), "attribute 'shape' is required");
  const std::vector<int64_t> shape = ir::attr_ints(node, "shape", {});
  auto fail = [&](const std::string& why) {
    throw Error(node.where(), "attribute 'shape' " + ir::attr_str(shape) + ": " + why +
                                  " (x '" + node.inputs[0]->name + "' is " + ir::shape_str(x) +
                                  ")");
  };
  if (shape.empty() || shape.size() > kMaxRank)
    fail("expected 1 to " + std::to_string(kMaxRank) + " dims");
  const bool symbolic = x[0] == ir::kBatch;
  // Elements of x per sample when the batch is symbolic, else in all.
  int64_t x_count = 1;
  for (size_t d = symbolic ? 1 : 0; d < x.size(); ++d) x_count *= x[d];

  if (symbolic && shape[0] != 0 && shape[0] != -1)
    fail("dim 0 must keep the symbolic batch: use 0 (copy x's dim 0) or -1 there");
  ir::Shape y(shape.size());
  int64_t known = 1;  // product of y's dims other than the -1 and the batch
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const std::string dim = "dim " + std::to_string(i) + " is " + std::to_string(shape[i]);
    if (shape[i] < -1) fail(dim + ", expected -1, 0 or a positive size");
    if (shape[i] == -1) {
      if (inferred >= 0) fail("two dims are -1, at most one can be inferred");
      inferred = static_cast<int>(i);
      continue;
    }
    if (shape[i] == 0 && i >= x.size()) fail(dim + " but x has no dim " + std::to_string(i));
    y[i] = shape[i] == 0 ? x[i] : shape[i];
    if (y[i] == ir::kBatch) continue;
    if (y[i] > x_count / known) fail("the shape holds more elements than x");
    known *= y[i];
  }
  if (inferred >= 0) {
    if (x_count % known != 0)
      fail("cannot infer the -1: " + std::to_string(x_count) + " elements" +
           (symbolic ? " per sample" : "") + " do not divide by " + std::to_string(known));
    const int64_t rest = x_count / known;
    if (symbolic && inferred == 0) {
      if (rest != 1)
        fail("a -1 in dim 0 stands for the symbolic batch, so the other dims must hold one "
             "sample's " + std::to_string(x_count) + " elements, not " + std::to_string(known));
      y[0] = ir::kBatch;
    } else {
      y[static_cast<size_t>(inferred)] = rest;
    }
  } else if (known != x_count) {
    fail("expected " + std::to_string(x_count) + " elements" + (symbolic ? " per sample" : "") +
         ", got " + std::to_string(known));
  }
  return y;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {"shape"});
  require_activation(node, 0, "x");
  require_rank_1_to_max(node, 0, "x");
  reshaped(node);
}

static ir::Shape infer_shape(const ir::Node& node) { return reshaped(node); }

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  return compile_c_order_copy(node, ctx, reshaped(node));
}

void register_reshape(Registry& r) { r.add({"reshape", {1, 1, validate, infer_shape}, compile}); }

}  // namespace kiln::ops
