// Concat, Split, Slice and Transpose -> concat, slice (one per piece and
// axis) and permute; on 1-D integer constants (shapes) Concat and Slice fold.
//
// ONNX clamps Slice's starts and ends to the axis (ends past it, INT64_MAX,
// mean "to the end"); Kiln's slice takes the resolved range, so the handler
// resolves it. Only step 1 is supported. A Split's sizes come from the
// `split` attribute before opset 13, from input 1 since, or are equal parts.
// Neither may cut the free batch.
#include <algorithm>
#include <limits>

#include "loaders/model_dir.h"
#include "loaders/onnx/handlers.h"
#include "loaders/onnx/onnx.h"

namespace kiln::loaders::from_onnx {

namespace {

// `axis` in [-rank, rank) as a non-negative index, or a failure.
size_t normal_axis(const OnnxNode& n, const std::string& what, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    n.fail(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

// x[start:end] along `axis` as output `output`: a slice, or x itself.
void slice_output(OnnxNode& n, size_t output, ir::Value* x, size_t axis, int64_t start, int64_t end) {
  if (x->shape[axis] == ir::kBatch)
    n.unsupported("a cut along the free batch dimension");
  if (start == 0 && end == x->shape[axis]) return n.alias(output, 0);
  n.add_node_at(output, "slice", {x},
                {{"axis", static_cast<int64_t>(axis)}, {"start", start}, {"end", end}});
}

// Concat of 1-D integer constants (shapes).
void concat_constants(OnnxNode& n, size_t count, int64_t axis) {
  Constant c;
  c.type = Constant::Type::i64;
  for (size_t i = 0; i < count; ++i) {
    if (n.constant(i)->shape.size() != 1 || n.constant(i)->type != Constant::Type::i64)
      n.unsupported("Concat of constants other than 1-D integer ones (Kiln folds shape arithmetic only)");
    normal_axis(n, "attribute 'axis'", axis, 1);
    const std::vector<int64_t>& part = n.ints(i);
    if (static_cast<int64_t>(c.i64.size() + part.size()) > kMaxOnnxIntElements)
      n.fail("the result has more than " + std::to_string(kMaxOnnxIntElements) + " elements, the limit");
    c.i64.insert(c.i64.end(), part.begin(), part.end());
  }
  c.shape = {static_cast<int64_t>(c.i64.size())};
  n.set_constant(0, std::move(c));
}

// A list of integers from the constant input i, or `fallback` when it is omitted.
std::vector<int64_t> optional_ints(const OnnxNode& n, size_t i, const std::vector<int64_t>& fallback) {
  return n.has_input(i) ? n.ints(i) : fallback;
}

}  // namespace

void convert_concat(OnnxNode& n) {
  n.check_attrs({"axis"});
  const size_t count = static_cast<size_t>(n.proto().input_size());
  if (count == 0) n.fail("no inputs");
  bool constants = true;
  for (size_t i = 0; i < count; ++i) constants = constants && n.is_constant(i);
  const int64_t axis = n.attr_int("axis", 0);
  if (constants) return concat_constants(n, count, axis);
  if (!n.has_attr("axis")) n.fail("attribute 'axis' is required");
  std::vector<ir::Value*> inputs;
  size_t rank = 0;
  for (size_t i = 0; i < count; ++i) {
    if (n.is_constant(i)) {
      inputs.push_back(n.param(i));
    } else {
      inputs.push_back(n.activation(i));
      rank = inputs.back()->shape.size();
    }
  }
  n.add_node("concat", inputs, {{"axis", static_cast<int64_t>(normal_axis(n, "attribute 'axis'", axis, rank))}});
}

void convert_split(OnnxNode& n) {
  if (n.opset() < 13) n.check_attrs({"axis", "split"});
  else n.check_attrs({"axis"});
  ir::Value* x = n.activation(0);
  const size_t axis = normal_axis(n, "attribute 'axis'", n.attr_int("axis", 0), x->shape.size());
  const size_t parts = static_cast<size_t>(n.proto().output_size());
  std::vector<int64_t> sizes = n.opset() < 13 ? n.attr_ints("split", {}) : optional_ints(n, 1, {});
  const int64_t dim = x->shape[axis];
  if (dim == ir::kBatch) n.unsupported("a split along the free batch dimension");
  if (sizes.empty()) {
    if (dim % static_cast<int64_t>(parts) != 0)
      n.fail("cannot split " + std::to_string(dim) + " into " + std::to_string(parts) + " equal parts");
    sizes.assign(parts, dim / static_cast<int64_t>(parts));
  }
  if (sizes.size() != parts)
    n.fail("split " + list_str(sizes) + " has " + std::to_string(sizes.size()) + " sizes for " +
           std::to_string(parts) + " outputs");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 1 || s > dim) n.fail("split " + list_str(sizes) + ": sizes must be positive");
    sum += s;
  }
  if (sum != dim)
    n.fail("split " + list_str(sizes) + " sums to " + std::to_string(sum) + ", the axis has " + std::to_string(dim));
  int64_t start = 0;
  for (size_t k = 0; k < parts; ++k) {
    if (!n.proto().output(static_cast<int>(k)).empty()) slice_output(n, k, x, axis, start, start + sizes[k]);
    start += sizes[k];
  }
}

void convert_slice(OnnxNode& n) {
  n.check_attrs({});
  const std::vector<int64_t> starts = n.ints(1), ends = n.ints(2);
  const bool constant = n.is_constant(0);
  const ir::Shape shape = constant ? n.constant(0)->shape : n.activation(0)->shape;
  std::vector<int64_t> all(shape.size());
  for (size_t d = 0; d < all.size(); ++d) all[d] = static_cast<int64_t>(d);
  const std::vector<int64_t> axes = optional_ints(n, 3, std::vector<int64_t>(all.begin(), all.begin() + std::min(all.size(), starts.size())));
  const std::vector<int64_t> steps = optional_ints(n, 4, std::vector<int64_t>(starts.size(), 1));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    n.fail("starts " + list_str(starts) + ", ends " + list_str(ends) + ", axes " + list_str(axes) + ", steps " +
           list_str(steps) + ": expected one of each per axis");
  if (constant && (shape.size() != 1 || n.constant(0)->type != Constant::Type::i64))
    n.unsupported("Slice of a constant other than a 1-D integer one (Kiln folds shape arithmetic only)");
  std::vector<bool> seen(shape.size(), false);
  ir::Value* x = constant ? nullptr : n.activation(0);
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t axis = normal_axis(n, "axes: element", axes[k], shape.size());
    if (seen[axis]) n.fail("axes " + list_str(axes) + ": axis " + std::to_string(axis) + " repeats");
    seen[axis] = true;
    if (steps[k] != 1) n.unsupported("step " + std::to_string(steps[k]) + " (Kiln slices with step 1)");
    const int64_t dim = shape[axis];
    auto clamp = [&](int64_t i) { return std::min(std::max(i < 0 ? i + dim : i, int64_t(0)), dim); };
    const int64_t start = clamp(starts[k]), end = clamp(ends[k]);
    if (start >= end) n.unsupported("an empty slice (Kiln's tensors have no size-0 dimension)");
    if (constant) {
      Constant c = *n.constant(0);
      c.i64.assign(c.i64.begin() + start, c.i64.begin() + end);
      c.shape = {end - start};
      return n.set_constant(0, std::move(c));
    }
    if (dim == ir::kBatch && start == 0 && ends[k] >= std::numeric_limits<int32_t>::max()) continue;
    if (start == 0 && end == dim) continue;
    if (dim == ir::kBatch) n.unsupported("a cut along the free batch dimension");
    x = n.add_node("slice", {x}, {{"axis", static_cast<int64_t>(axis)}, {"start", start}, {"end", end}});
  }
  if (x == n.activation(0)) n.alias(0, 0);
}

void convert_transpose(OnnxNode& n) {
  n.check_attrs({"perm"});
  ir::Value* x = n.activation(0);
  const size_t rank = x->shape.size();
  std::vector<int64_t> reversed(rank);
  for (size_t d = 0; d < rank; ++d) reversed[d] = static_cast<int64_t>(rank - 1 - d);
  const std::vector<int64_t> perm = n.attr_ints("perm", reversed);
  std::vector<bool> seen(rank, false);
  bool ok = perm.size() == rank;
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < static_cast<int64_t>(rank) && !seen[static_cast<size_t>(p)];
    if (ok) seen[static_cast<size_t>(p)] = true;
  }
  if (!ok) n.fail("attribute 'perm' " + list_str(perm) + " is not a permutation of 0.." + std::to_string(rank - 1));
  bool identity = true;
  for (size_t d = 0; d < rank; ++d) identity = identity && perm[d] == static_cast<int64_t>(d);
  if (identity) return n.alias(0, 0);
  if (x->shape[0] == ir::kBatch && perm[0] != 0) n.unsupported("a transpose that moves the free batch dimension");
  n.add_node("permute", {x}, {{"dims", perm}});
}

}  // namespace kiln::loaders::from_onnx
