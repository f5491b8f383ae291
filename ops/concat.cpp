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
//
// A channel concat of rank-4 activations whose widest input arrives in nhwc,
// nchw, or nChw8c / nChw16c with every input's channels in whole blocks runs
// Kiln's own copy loop instead, in that layout (the engine reorders the
// other inputs to it): oneDNN's simple concat copied SqueezeNet's nhwc
// joins at about half the speed a memcpy per pixel reaches (bench/README).
// The engine may still place any concat in place (engine/inplace_concat.h).
//
// oneDNN 2.6 joins inputs of different layouts only in its reference kernel:
// with --conv-algo auto a DenseNet's running concat (nhwc, from brgconv) meets
// a Winograd conv's nChw16c output. Then every input is read in the largest
// input's layout, where a fast kernel takes that, and the engine reorders the
// others.
#include <cstring>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/join_loop.h"
#include "ops/loop_layout.h"
#include "ops/registry.h"

namespace kiln::ops {

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
  require_joinable(node, node.inputs.size(), read_axis(node));
}

static ir::Shape infer_shape(const ir::Node& node) {
  const size_t axis = read_axis(node);
  ir::Shape y = node.inputs[0]->shape;
  y[axis] = 0;
  for (const ir::Value* in : node.inputs) y[axis] += in->shape[axis];
  return y;
}

using dnnl::memory;

static dnnl::concat::primitive_desc concat_pd(const std::vector<memory::desc>& srcs,
                                              const memory::dims& y, int axis,
                                              const dnnl::engine& engine) {
  return {memory::desc(y, memory::data_type::f32, memory::format_tag::any), axis, srcs, engine,
          make_attr()};
}

// Every source in the layout `like` has.
static std::vector<memory::desc> all_like(const std::vector<memory::desc>& srcs,
                                          const memory::desc& like) {
  std::vector<memory::desc> out;
  for (const memory::desc& s : srcs) out.push_back(same_layout(like, s.dims()));
  return out;
}

// The sources all in the largest one's layout, when they come in several
// layouts that oneDNN joins only in its reference kernel and that one is not
// plain; the given ones otherwise. Measured with --conv-algo auto: on
// DenseNet-121 the concats took 3.4 ms instead of 5.0 and the reorders 2.0
// instead of 3.6 (the batchnorm and 1x1 conv after each now read nhwc as it
// is); on ShuffleNet, whose largest input is a plain slice, unifying on the
// next layout (nhwc) cost more reorders than the reference kernel did.
static std::vector<memory::desc> fast_layouts(const std::vector<memory::desc>& srcs,
                                              const memory::dims& y, int axis,
                                              const dnnl::engine& engine) {
  // The first of the largest, so ties go to the node's order.
  size_t largest = 0;
  for (size_t i = 1; i < srcs.size(); ++i)
    if (srcs[i].get_size() > srcs[largest].get_size()) largest = i;
  std::vector<memory::desc> unified = all_like(srcs, srcs[largest]);
  const memory::dims dims = srcs[largest].dims();
  if (unified == srcs || unified[largest] != srcs[largest] ||
      srcs[largest] == plain_desc(ir::Shape(dims.begin(), dims.end())) ||
      !is_reference(concat_pd(srcs, y, axis, engine).impl_info_str()) ||
      is_reference(concat_pd(unified, y, axis, engine).impl_info_str()))
    return srcs;
  return unified;
}

// nhwc: work units [begin, end) are pixels (n, h, w), each input's channels
// one memcpy.
static void copy_pixels(const JoinGeometry& g, const float* const* srcs, float* dst,
                        int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    for (size_t k = 0; k < g.channels.size(); ++k) {
      const int64_t Ck = g.channels[k];
      std::memcpy(dst + p * g.C + g.offsets[k], srcs[k] + p * Ck,
                  static_cast<size_t>(Ck) * sizeof(float));
    }
  }
}

// nchw, nChw8c, nChw16c (B = 1, 8, 16): work units [begin, end) are y's
// channel blocks (n, block), each a block of one input, one memcpy.
static void copy_blocks(const JoinGeometry& g, const float* const* srcs, float* dst,
                        int64_t begin, int64_t end) {
  const int64_t B = g.block, CB = g.C / B, run = g.HW * B;
  for (int64_t unit = begin; unit < end; ++unit) {
    const int64_t n = unit / CB, ob = unit % CB;
    const size_t k = static_cast<size_t>(g.sources.input[static_cast<size_t>(ob)]);
    const int64_t ib = g.sources.block_in_input[static_cast<size_t>(ob)];
    std::memcpy(dst + unit * run, srcs[k] + (n * (g.channels[k] / B) + ib) * run,
                static_cast<size_t>(run) * sizeof(float));
  }
}

// Kiln's copy loop for the node, or null where it does not apply (see the top).
static std::unique_ptr<Kernel> copy_loop(const ir::Node& node, const CompileContext& ctx,
                                         size_t axis) {
  if (axis != 1 || node.output->shape.size() != 4) return nullptr;
  const size_t K = node.inputs.size();
  for (const ir::Value* in : node.inputs)
    if (in->is_param()) return nullptr;
  JoinGeometry g = join_geometry(node, K, ctx.input_descs);
  if (g.block < 0) return nullptr;
  const int64_t units = g.units();
  const auto run = g.block == kChannelsLast ? copy_pixels : copy_blocks;
  const std::string name = std::string("kiln:") + loop_layout(g.block).name;
  std::vector<memory::desc> inputs = join_input_descs(node, K, g.block);
  memory::desc output = join_output_desc(node, g.block);
  return std::make_unique<JoinLoopOf<JoinGeometry>>(std::move(g), run, std::move(inputs),
                                                    std::move(output), units, name);
}

static std::unique_ptr<Kernel> compile(const ir::Node& node, const CompileContext& ctx) {
  const int axis = static_cast<int>(read_axis(node));
  if (std::unique_ptr<Kernel> loop = copy_loop(node, ctx, static_cast<size_t>(axis))) return loop;
  return with_node(node, [&]() -> std::unique_ptr<Kernel> {
    // Sources in the node's order: activations as they arrive, parameters plain.
    std::vector<memory::desc> srcs;
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
    const memory::dims y = to_dims(infer_shape(node));
    srcs = fast_layouts(srcs, y, axis, ctx.engine);
    for (PrimitiveKernel::Input& in : activations)
      in.desc = srcs[static_cast<size_t>(in.arg - DNNL_ARG_MULTIPLE_SRC)];
    dnnl::concat::primitive_desc pd = concat_pd(srcs, y, axis, ctx.engine);
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
