// Flatten and Reshape -> flatten (or nothing), and the shape arithmetic that
// torch.onnx writes for x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze
// -> Concat -> Reshape, folded to constants while loading, since every
// activation's shape is known then. A free batch in a folded shape is
// kBatchElement; it may only come back as dimension 0 of a Reshape's target.
//
// A reshape that keeps the leading dims and merges the rest is Kiln's
// flatten; any other (and Gather, Unsqueeze or Concat on activations)
// waits for Kiln's reshape and concat ops.
#include <algorithm>
#include <limits>

#include "loaders/model_dir.h"
#include "loaders/onnx/handlers.h"
#include "loaders/onnx/onnx.h"

namespace kiln::loaders::from_onnx {

namespace {

// a * b for element counts, failing past 2^62 rather than overflowing.
int64_t times(const OnnxNode& n, int64_t a, int64_t b) {
  if (b != 0 && a > (std::numeric_limits<int64_t>::max() / 2) / b) n.fail("element count overflows");
  return a * b;
}

// Elements of dimensions [from, to) of `shape`, the free batch left out.
int64_t known_numel(const OnnxNode& n, const ir::Shape& shape, size_t from = 0, size_t to = kMaxRank) {
  int64_t count = 1;
  for (size_t d = from; d < std::min(to, shape.size()); ++d) {
    if (shape[d] != ir::kBatch) count = times(n, count, shape[d]);
  }
  return count;
}

// The start_dim of the Kiln flatten that turns `in` into `out`, or -1 if none does.
int64_t flatten_start(const ir::Shape& in, const ir::Shape& out) {
  if (out.empty() || out.size() > in.size()) return -1;
  const size_t s = out.size() - 1;
  if (!std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(s), in.begin())) return -1;
  int64_t rest = 1;
  for (size_t d = s; d < in.size(); ++d) {
    if (in[d] == ir::kBatch) return -1;
    rest *= in[d];
  }
  return out[s] == rest ? static_cast<int64_t>(s) : -1;
}

// Output 0 is input 0 (activation x) reshaped to `out`: nothing, a
// flatten (what the fusions and the exporter's graphs know), or a reshape
// whose free batch is written 0.
void reshape_activation(OnnxNode& n, ir::Value* x, const ir::Shape& out) {
  if (out == x->shape) return n.alias(0, 0);
  const int64_t start = flatten_start(x->shape, out);
  if (start >= 0) {
    n.add_node("flatten", {x}, {{"start_dim", start}});
    return;
  }
  std::vector<int64_t> shape(out.begin(), out.end());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == ir::kBatch) {
      if (d != 0 || x->shape.empty() || x->shape[0] != ir::kBatch)
        n.unsupported("a reshape that moves the free batch dimension");
      shape[d] = 0;
    }
  }
  n.add_node("reshape", {x}, {{"shape", shape}});
}

// Input 0 as a constant of another shape (same elements).
void reshape_constant(OnnxNode& n, const ir::Shape& out) {
  Constant c = *n.constant(0);
  if (c.numel() != known_numel(n, out))
    n.fail("cannot reshape " + ir::shape_str(c.shape) + " to " + ir::shape_str(out));
  c.shape = out;
  n.set_constant(0, std::move(c));
}

// Reshape's target (input 1) against input shape `in`: 0 copies a dim
// (unless allowzero), -1 takes what is left. The free batch stays free.
ir::Shape resolve_target(const OnnxNode& n, const ir::Shape& in, bool allowzero) {
  const std::vector<int64_t>& target = n.ints(1);
  if (target.size() > kMaxRank)
    n.fail("shape has " + std::to_string(target.size()) + " dims, more than the limit of " + std::to_string(kMaxRank));
  const bool in_batch = !in.empty() && in[0] == ir::kBatch;
  ir::Shape out;
  int infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    const int64_t t = target[i];
    if (t == kBatchElement && !(i == 0 && in_batch))
      n.unsupported("a reshape that moves the batch dimension");
    if (t == kBatchElement) out.push_back(ir::kBatch);
    else if (t == 0 && !allowzero && i < in.size()) out.push_back(in[i]);
    else if (t == -1 && infer < 0) infer = static_cast<int>(i), out.push_back(1);
    else if (t >= 1) out.push_back(t);
    else n.fail("shape " + list_str(target) + ": element " + std::to_string(i) + " is invalid");
  }
  const bool out_batch = !out.empty() && out[0] == ir::kBatch;
  const int64_t have = known_numel(n, in), want = known_numel(n, out);
  if (infer >= 0) {
    if (have % want != 0)
      n.fail("cannot reshape " + ir::shape_str(in) + " to " + list_str(target));
    out[static_cast<size_t>(infer)] = have / want;
    if (in_batch && !out_batch) {
      if (have / want != 1) n.unsupported("a reshape that merges the batch with other dimensions");
      out[static_cast<size_t>(infer)] = ir::kBatch;
    }
  } else if (in_batch != out_batch) {
    n.unsupported("a reshape that gives the batch dimension a fixed size");
  } else if (have != want) {
    n.fail("cannot reshape " + ir::shape_str(in) + " to " + list_str(target));
  }
  return out;
}

// The shape of input 0, activation or constant.
ir::Shape input_shape(const OnnxNode& n) {
  return n.is_constant(0) ? n.constant(0)->shape : n.activation(0)->shape;
}

}  // namespace

void convert_reshape(OnnxNode& n) {
  n.check_attrs({"allowzero"});
  const ir::Shape out = resolve_target(n, input_shape(n), n.attr_int("allowzero", 0) != 0);
  if (n.is_constant(0)) return reshape_constant(n, out);
  reshape_activation(n, n.activation(0), out);
}

// Flatten(axis): [prod(d[:axis]), prod(d[axis:])].
void convert_flatten(OnnxNode& n) {
  n.check_attrs({"axis"});
  const ir::Shape in = input_shape(n);
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = n.attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    n.fail("attribute 'axis' " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const size_t split = static_cast<size_t>(axis);
  const bool in_batch = rank > 0 && in[0] == ir::kBatch;
  if (in_batch && (split == 0 || known_numel(n, in, 1, split) != 1))
    n.unsupported("Flatten with axis " + std::to_string(axis) + " of " + ir::shape_str(in) +
                  " merges the batch with other dimensions");
  const ir::Shape out = {in_batch ? ir::kBatch : known_numel(n, in, 0, split), known_numel(n, in, split)};
  if (n.is_constant(0)) return reshape_constant(n, out);
  reshape_activation(n, n.activation(0), out);
}

void convert_shape(OnnxNode& n) {
  n.check_attrs({"start", "end"});
  const ir::Shape in = input_shape(n);
  const int64_t rank = static_cast<int64_t>(in.size());
  auto clamp = [&](int64_t i) { return std::min(std::max(i < 0 ? i + rank : i, int64_t(0)), rank); };
  const int64_t start = clamp(n.attr_int("start", 0)), end = clamp(n.attr_int("end", rank));
  Constant c;
  c.type = Constant::Type::i64;
  for (int64_t d = start; d < end; ++d) c.i64.push_back(in[d] == ir::kBatch ? kBatchElement : in[d]);
  c.shape = {static_cast<int64_t>(c.i64.size())};
  n.set_constant(0, std::move(c));
}

// Gather on a 1-D integer constant (a shape): picks elements.
void convert_gather(OnnxNode& n) {
  n.check_attrs({"axis"});
  const std::vector<int64_t>& data = n.ints(0);
  const std::vector<int64_t>& indices = n.ints(1);
  const ir::Shape& index_shape = n.constant(1)->shape;
  if (n.constant(0)->shape.size() != 1 || index_shape.size() > 1)
    n.unsupported("Gather on a constant of rank other than 1 (Kiln folds shape arithmetic only)");
  const int64_t axis = n.attr_int("axis", 0);
  if (axis != 0 && axis != -1) n.fail("attribute 'axis' " + std::to_string(axis) + " is out of range for rank 1");
  Constant c;
  c.type = Constant::Type::i64;
  c.shape = index_shape;
  const int64_t size = static_cast<int64_t>(data.size());
  for (int64_t i : indices) {
    if (i < -size || i >= size)
      n.fail("index " + std::to_string(i) + " is out of range for " + std::to_string(size) + " elements");
    c.i64.push_back(data[static_cast<size_t>(i < 0 ? i + size : i)]);
  }
  n.set_constant(0, std::move(c));
}

namespace {

// Squeeze and Unsqueeze: `axes` from the attribute before opset 13, from input 1 since.
std::vector<int64_t> squeeze_axes(const OnnxNode& n) {
  if (n.opset() < 13) n.check_attrs({"axes"});
  else n.check_attrs({});
  if (n.opset() < 13) return n.attr_ints("axes", {});
  return n.has_input(1) ? n.ints(1) : std::vector<int64_t>{};
}

// Input 0, constant or activation, as `out` (same elements).
void reshape_input(OnnxNode& n, const ir::Shape& out) {
  if (n.is_constant(0)) return reshape_constant(n, out);
  reshape_activation(n, n.activation(0), out);
}

}  // namespace

// Squeeze: the dims of size 1 at `axes` removed (all of them when none are given).
void convert_squeeze(OnnxNode& n) {
  const std::vector<int64_t> axes = squeeze_axes(n);
  const ir::Shape in = input_shape(n);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<bool> removed(in.size(), axes.empty());
  for (int64_t a : axes) {
    const int64_t axis = a < 0 ? a + rank : a;
    if (axis < 0 || axis >= rank || removed[static_cast<size_t>(axis)] || in[static_cast<size_t>(axis)] != 1)
      n.fail("axes " + list_str(axes) + ": expected distinct axes of size 1 in " + ir::shape_str(in));
    removed[static_cast<size_t>(axis)] = true;
  }
  ir::Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!removed[d] || in[d] != 1) out.push_back(in[d]);
  }
  reshape_input(n, out);
}

// Unsqueeze: dims of size 1 inserted at `axes`.
void convert_unsqueeze(OnnxNode& n) {
  const std::vector<int64_t> axes = squeeze_axes(n);
  const ir::Shape in = input_shape(n);
  const int64_t rank = static_cast<int64_t>(in.size() + axes.size());
  if (axes.empty() || rank > static_cast<int64_t>(kMaxRank))
    n.fail("axes " + list_str(axes) + ": expected 1 to " + std::to_string(kMaxRank - in.size()) + " axes");
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t axis = a < 0 ? a + rank : a;
    if (axis < 0 || axis >= rank || inserted[static_cast<size_t>(axis)])
      n.fail("axes " + list_str(axes) + ": expected distinct axes in [" + std::to_string(-rank) + ", " +
             std::to_string(rank) + ")");
    inserted[static_cast<size_t>(axis)] = true;
  }
  ir::Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(inserted[static_cast<size_t>(d)] ? 1 : in[next++]);
  reshape_input(n, out);
}

}  // namespace kiln::loaders::from_onnx
