#include "ops/binary.h"

#include <algorithm>
#include <numeric>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/channel_gate.h"
#include "ops/common.h"

namespace kiln::ops {

using dnnl::memory;

static const char* const kOperandNames[2] = {"a", "b"};

// `shape` with leading 1s up to `rank`.
static ir::Shape right_aligned(const ir::Shape& shape, size_t rank) {
  ir::Shape out(rank - shape.size(), 1);
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

std::optional<ir::Shape> broadcast_shapes(const ir::Shape& a, const ir::Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  ir::Shape pa = right_aligned(a, rank), pb = right_aligned(b, rank), out(rank);
  for (size_t d = 0; d < rank; ++d) {
    // Equal (the batch N included), or one of them 1; N against a fixed size
    // other than 1 would only hold for one batch size.
    if (pa[d] == pb[d] || pb[d] == 1) {
      out[d] = pa[d];
    } else if (pa[d] == 1) {
      out[d] = pb[d];
    } else {
      return std::nullopt;
    }
  }
  return out;
}

static void validate(const ir::Node& node) {
  ir::check_known_attrs(node, {});
  const ir::Value* a = node.inputs[0];
  const ir::Value* b = node.inputs[1];
  if (a->is_param() && b->is_param())
    throw Error(node.where(), "a '" + a->name + "' and b '" + b->name +
                                  "' are both parameters: expected at least one activation");
  for (size_t i = 0; i < 2; ++i) {
    const ir::Value* v = node.inputs[i];
    for (size_t d = 0; d < v->shape.size(); ++d) {
      const bool batch = d == 0 && !v->is_param() && v->shape[d] == ir::kBatch;
      if (v->shape[d] < 1 && !batch)
        throw Error(node.where(), "input " + std::to_string(i) + " (" + kOperandNames[i] + ") '" +
                                      v->name + "': expected positive dimensions, got " +
                                      ir::shape_str(v->shape));
    }
  }
  if (!broadcast_shapes(a->shape, b->shape))
    throw Error(node.where(), "cannot broadcast a '" + a->name + "' " + ir::shape_str(a->shape) +
                                  " with b '" + b->name + "' " + ir::shape_str(b->shape) +
                                  " (aligned on the right, each dimension pair must be equal "
                                  "or contain a 1)");
}

static ir::Shape infer_shape(const ir::Node& node) {
  return *broadcast_shapes(node.inputs[0]->shape, node.inputs[1]->shape);
}

// --- layouts ---------------------------------------------------------------------

// The plain, C-ordered layout of `dims`, any rank (common.h's plain_desc
// goes up to rank 5).
static memory::dims plain_strides(const memory::dims& dims) {
  memory::dims strides(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) strides[d - 1] = strides[d] * dims[d];
  return strides;
}

static memory::desc plain(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, plain_strides(dims));
}

// `dims` (each equal to full's or 1) in the layout of `full`: the same order
// of dimensions in memory and the same inner blocks, so that a broadcast
// operand of an nChw16c activation is nChw16c too. oneDNN 2.6's jit binary
// kernels take a broadcast src1 only in src0's own layout; with any other it
// falls back to its reference kernel.
static memory::desc broadcast_layout(const memory::desc& full, const memory::dims& dims) {
  if (dims == full.dims()) return full;
  dnnl_memory_desc_t md = full.data;
  if (md.format_kind != dnnl_blocked) return plain(dims);
  dnnl_blocking_desc_t& blocking = md.format_desc.blocking;
  const int rank = md.ndims;
  std::vector<dnnl_dim_t> block(static_cast<size_t>(rank), 1);
  dnnl_dim_t inner = 1;
  for (int i = 0; i < blocking.inner_nblks; ++i) {
    block[static_cast<size_t>(blocking.inner_idxs[i])] *= blocking.inner_blks[i];
    inner *= blocking.inner_blks[i];
  }
  // Dimensions from the outermost (largest stride in `full`) in; ties keep
  // their order, which only ever involves dimensions of size 1.
  std::vector<int> order(static_cast<size_t>(rank));
  std::iota(order.begin(), order.end(), 0);
  const dnnl_dims_t& full_strides = full.data.format_desc.blocking.strides;
  std::stable_sort(order.begin(), order.end(),
                   [&](int x, int y) { return full_strides[x] > full_strides[y]; });
  dnnl_dim_t stride = inner;
  for (int k = rank - 1; k >= 0; --k) {
    const int d = order[static_cast<size_t>(k)];
    const dnnl_dim_t b = block[static_cast<size_t>(d)];
    md.dims[d] = dims[static_cast<size_t>(d)];
    md.padded_dims[d] = (md.dims[d] + b - 1) / b * b;
    md.padded_offsets[d] = 0;
    blocking.strides[d] = stride;
    stride *= md.padded_dims[d] / b;
  }
  md.offset0 = 0;
  md.extra = dnnl_memory_extra_desc_t{};
  return memory::desc(md);
}

// `small` (right-aligned to out's rank, each dimension equal to out's or 1)
// read as a tensor of out's shape: plain strides, 0 along broadcast dimensions.
static memory::desc broadcast_view(const memory::dims& small, const memory::dims& out) {
  memory::dims strides = plain_strides(small);
  for (size_t d = 0; d < small.size(); ++d) {
    if (small[d] == 1 && out[d] != 1) strides[d] = 0;
  }
  return memory::desc(out, memory::data_type::f32, strides);
}

// --- the kernel ------------------------------------------------------------------

namespace {

// Where the copy of a broadcast `a` is read from; not an argument of the binary
// primitive, which ignores it.
constexpr int kBroadcastSrc = DNNL_ARG_SRC_2;

// One binary primitive, optionally after a reorder that copies `a`,
// broadcast, into the output buffer (then the primitive runs in place on it).
// An activation operand may be read through another desc than the one the
// engine hands it in (its rank padded with leading 1s, or zero strides).
class BinaryKernel : public Kernel {
 public:
  struct Input {
    int arg;             // DNNL_ARG_SRC_0, DNNL_ARG_SRC_1 or kBroadcastSrc
    memory::desc given;  // the layout the engine supplies
    memory::desc view;   // the same bytes as the primitive reads them
  };

  BinaryKernel(const dnnl::binary::primitive_desc& pd,
               const dnnl::reorder::primitive_desc* broadcast, std::vector<Input> inputs,
               Constants constants)
      : binary_(pd), inputs_(std::move(inputs)), output_(pd.dst_desc()),
        scratchpad_(pd.scratchpad_desc()), constants_(std::move(constants)),
        implementation_(pd.impl_info_str()) {
    if (broadcast) {
      broadcast_ = dnnl::reorder(*broadcast);
      if (broadcast->scratchpad_desc().get_size() > scratchpad_.get_size())
        scratchpad_ = broadcast->scratchpad_desc();
      implementation_ =
          "broadcast " + std::string(broadcast->impl_info_str()) + " + " + implementation_;
    }
  }

  memory::desc input_desc(size_t i) const override { return inputs_.at(i).given; }
  memory::desc output_desc() const override { return output_; }
  memory::desc scratchpad_desc() const override { return scratchpad_; }

  ExecArgs bind(const std::vector<memory>& inputs, const memory& output,
                const memory& scratchpad) const override {
    ExecArgs args = constants_.args;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const memory& in = inputs.at(i);
      args[inputs_[i].arg] = memory(inputs_[i].view, in.get_engine(), in.get_data_handle());
    }
    args[DNNL_ARG_DST] = output;
    if (broadcast_) args[DNNL_ARG_SRC_0] = output;
    if (scratchpad_.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
    return args;
  }

  void execute(dnnl::stream& stream, const ExecArgs& args) const override {
    if (broadcast_) {
      ExecArgs copy = {{DNNL_ARG_FROM, args.at(kBroadcastSrc)},
                       {DNNL_ARG_TO, args.at(DNNL_ARG_DST)}};
      if (scratchpad_.get_size() > 0) copy[DNNL_ARG_SCRATCHPAD] = args.at(DNNL_ARG_SCRATCHPAD);
      broadcast_.execute(stream, copy);
    }
    binary_.execute(stream, args);
  }

  std::string implementation() const override { return implementation_; }
  // oneDNN's binary runs with dst == src0; not when src0 is a broadcast copy
  // made in the output buffer, nor through another view of the bytes.
  bool can_overwrite_input(size_t i) const override {
    const Input& in = inputs_.at(i);
    return !broadcast_ && in.arg == DNNL_ARG_SRC_0 && in.given == output_ && in.view == output_;
  }

 private:
  dnnl::binary binary_;
  dnnl::reorder broadcast_;  // empty unless a is copied, broadcast, first
  std::vector<Input> inputs_;
  memory::desc output_;
  memory::desc scratchpad_;
  Constants constants_;
  std::string implementation_;
};

// One operand of the node.
struct Operand {
  const ir::Value* value;
  int activation;       // index among the node's activation inputs; -1 for a parameter
  memory::dims dims;    // right-aligned to the output's rank
};

}  // namespace

// How the primitive reads its src1 when the output is in `layout`: in the
// broadcast form of that layout; a lower-rank activation plain.
static memory::desc src1_layout(const Operand& op, const memory::desc& layout) {
  const bool same_rank = op.value->is_param() || op.value->shape.size() == op.dims.size();
  return same_rank ? broadcast_layout(layout, op.dims) : plain(op.dims);
}

// The implementation oneDNN picks for y = a op b, both operands and the
// output in `layout` (a broadcast operand in its broadcast form of it).
static std::string probe_binary(dnnl::algorithm alg, const memory::desc& layout,
                                const Operand& src1, const dnnl::engine& engine) {
  try {
    dnnl::binary::desc desc(alg, layout, src1_layout(src1, layout), layout);
    return dnnl::binary::primitive_desc(desc, make_attr(), engine).impl_info_str();
  } catch (const dnnl::error&) {
    return "ref";  // not implemented in this layout
  }
}

// Layouts to try, best first, when the producer's runs in the reference
// kernel: channels last, then channel blocks of 16 and 8, then plain.
static std::vector<memory::desc> fallback_layouts(const memory::dims& y) {
  using tag = memory::format_tag;
  std::vector<memory::desc> out;
  const std::vector<std::vector<tag>> tags = {
      {}, {}, {}, {tag::acb, tag::aBc16b, tag::aBc8b},
      {tag::acdb, tag::aBcd16b, tag::aBcd8b}, {tag::acdeb, tag::aBcde16b, tag::aBcde8b}};
  if (y.size() < tags.size())
    for (tag t : tags[y.size()]) out.emplace_back(y, memory::data_type::f32, t);
  out.push_back(plain(y));
  return out;
}

static std::unique_ptr<Kernel> compile_binary(const ir::Node& node, const CompileContext& ctx,
                                              dnnl::algorithm alg) {
  const memory::dims y = to_dims(infer_shape(node));
  std::vector<Operand> ops;
  int activations = 0;
  for (const ir::Value* v : node.inputs) {
    ops.push_back({v, v->is_param() ? -1 : activations++,
                   to_dims(right_aligned(v->shape, y.size()))});
  }
  const bool full_a = ops[0].dims == y, full_b = ops[1].dims == y;

  // A channels-last activation and one value per channel (or per image and
  // channel): Kiln's loop, where oneDNN's nhwc kernel is slow (ops/channel_gate.h).
  for (size_t i : {0, 1}) {
    const Operand& x = ops[i];
    const Operand& g = ops[1 - i];
    if (x.dims != y || x.activation < 0 ||
        !channel_gate_applies(ctx.input_descs.at(static_cast<size_t>(x.activation)), g.dims))
      continue;
    ChannelGate gate{alg, i == 1, y, g.dims[0] != 1, x.activation, g.activation,
                     g.value->is_param() ? g.value->data.get() : nullptr};
    return compile_channel_gate(
        gate, g.activation >= 0 ? ctx.input_descs.at(static_cast<size_t>(g.activation))
                                : memory::desc());
  }

  // The output's layout: that of an activation operand of the output's
  // shape (a's first), as its producer wrote it; else plain.
  memory::desc layout = plain(y);
  for (int i = 1; i >= 0; --i) {
    if (ops[i].dims == y && ops[i].activation >= 0) layout = ctx.input_descs.at(ops[i].activation);
  }

  // The operand the primitive reads whole (src0): a if it has the output's
  // shape; else b for add and mul (swapped) and sub (y = -(b - a)); else
  // (div, or neither has it) a, copied broadcast into the output buffer first.
  const size_t src0 = !full_a && full_b && alg != dnnl::algorithm::binary_div ? 1 : 0;
  const bool negate = src0 == 1 && alg == dnnl::algorithm::binary_sub;
  const bool copy_a = !full_a && src0 == 0;
  const Operand& other = ops[1 - src0];

  // oneDNN 2.6 runs a binary op in its reference kernel, 20 to 50 times
  // slower, on a layout its jit kernels lack for this CPU (nChw8c on AVX-512,
  // as grouped convs with 8 channels per group write it; nChw16c on AVX2).
  // Then the operands are read in a layout the jit kernels take, the engine
  // reordering them, which costs a fraction of what the reference kernel does.
  if (is_reference(probe_binary(alg, layout, other, ctx.engine)))
    for (const memory::desc& candidate : fallback_layouts(y)) {
      if (!is_reference(probe_binary(alg, candidate, other, ctx.engine))) {
        layout = candidate;
        break;
      }
    }

  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    std::vector<BinaryKernel::Input> inputs(static_cast<size_t>(activations));
    Constants constants;
    const dnnl::engine& engine = ctx.engine;

    // `op` as the primitive's argument `arg`, read through `desc`.
    auto place = [&](const Operand& op, int arg, const memory::desc& desc) {
      if (op.activation >= 0) {
        // A lower-rank activation comes plain and is read with leading 1s.
        const bool same_rank = op.value->shape.size() == op.dims.size();
        memory::desc given = same_rank ? desc : plain(to_dims(op.value->shape));
        inputs[static_cast<size_t>(op.activation)] = {arg, given, desc};
      } else {
        const ir::Shape logical(op.dims.begin(), op.dims.end());
        pack_param(constants, arg, *op.value->data, desc, logical);
      }
    };

    dnnl::reorder::primitive_desc broadcast_pd;
    if (copy_a) {
      const Operand& a = ops[0];
      const memory::desc view = broadcast_view(a.dims, y);
      place(a, kBroadcastSrc, plain(a.dims));
      if (a.activation >= 0) {
        inputs[static_cast<size_t>(a.activation)].view = view;
      } else {
        memory& packed = constants.args.at(kBroadcastSrc);
        packed = memory(view, engine, packed.get_data_handle());
      }
      broadcast_pd = dnnl::reorder::primitive_desc(engine, view, engine, layout, make_attr());
    } else {
      place(ops[src0], DNNL_ARG_SRC_0, layout);
    }
    const memory::desc other_desc = src1_layout(other, layout);
    place(other, DNNL_ARG_SRC_1, other_desc);

    dnnl::post_ops post_ops;
    if (negate) post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
    dnnl::binary::desc desc(alg, layout, other_desc, layout);
    dnnl::binary::primitive_desc pd(desc, make_attr(post_ops), engine);
    return std::make_unique<BinaryKernel>(pd, copy_a ? &broadcast_pd : nullptr, std::move(inputs),
                                          std::move(constants));
  });
}

OpDef binary_op(const std::string& name, dnnl::algorithm alg) {
  return {name, {2, 2, validate, infer_shape},
          [alg](const ir::Node& node, const CompileContext& ctx) {
            return compile_binary(node, ctx, alg);
          }};
}

}  // namespace kiln::ops
