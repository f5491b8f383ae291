// Helpers shared by the op files: input checks for validate(), and the small
// pieces of oneDNN set-up every kernel repeats.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ir/tensor.h"
#include "ops/kernel.h"

namespace kiln::ops {

// --- validate() helpers; each throws kiln::Error naming the node -----------

// Input `index` (called `what`, e.g. "weight") must be an activation / a parameter.
void require_activation(const ir::Node& node, size_t index, const std::string& what);
void require_param(const ir::Node& node, size_t index, const std::string& what);
// Input `index` must have rank `rank`.
void require_rank(const ir::Node& node, size_t index, const std::string& what, size_t rank);
// Input `index` must be [N, C, H, W] with C, H and W positive.
void require_nchw(const ir::Node& node, size_t index, const std::string& what);
// Input `index` must have exactly this shape.
void require_shape(const ir::Node& node, size_t index, const std::string& what,
                   const ir::Shape& shape);
// Input `index` must have rank 1 to kMaxRank with every dimension positive
// (the symbolic batch allowed in dim 0).
void require_rank_1_to_max(const ir::Node& node, size_t index, const std::string& what);
// Inputs 0 to count - 1 must have one rank and equal dimensions except along
// `axis`, which must not be their symbolic batch: what concat and
// concat_batchnorm join ("inputs must have equal shapes except along dim 1, ...").
void require_joinable(const ir::Node& node, size_t count, size_t axis);
// `axis`, read from attribute `attr`, as a dimension of a rank-`rank` input
// called `what`: negative counts from the end (-1 is the last dim).
size_t normalize_axis(const ir::Node& node, const std::string& attr, int64_t axis, size_t rank,
                      const std::string& what = "x");
// Attribute 'eps' of a normalisation: a finite number >= 0, default 1e-5.
double read_eps(const ir::Node& node);

// The highest rank the shape ops (concat, slice, reshape, permute, mean) take.
constexpr size_t kMaxRank = 6;
// Inputs concat and concat_batchnorm take at most (DenseNet-201's largest joins 49).
constexpr size_t kMaxConcatInputs = 1024;

// --- oneDNN set-up -----------------------------------------------------------

dnnl::memory::dims to_dims(const ir::Shape& shape);
// The plain, C-ordered layout of a shape (nchw for rank 4, nc for rank 2, ...), rank 1 to 6.
dnnl::memory::desc plain_desc(const ir::Shape& shape);
// `dims` in the layout `like` has (plain, nhwc, nChw8c, nChw16c and their
// other ranks), so a kernel can write its output in its input's layout; plain
// when `like` is none of these.
dnnl::memory::desc same_layout(const dnnl::memory::desc& like, const dnnl::memory::dims& dims);
// True for the name (pd.impl_info_str()) of one of oneDNN's generic reference
// kernels, which start "ref" ("ref:any"), 10 to 50 times slower than the jit ones.
bool is_reference(const std::string& implementation);
// Every primitive gets this attribute, with the scratchpad owned by the caller
// so that a context can run without allocating: pass post-ops if any.
dnnl::primitive_attr make_attr(const dnnl::post_ops& post_ops = dnnl::post_ops());
// Packs a parameter into a new buffer with layout `desc`, reordering from the
// parameter's plain layout (reshaped to `logical_shape` if given) once, and
// adds it to `constants` as argument `arg` (DNNL_ARG_WEIGHTS, ...).
void pack_param(Constants& constants, int arg, const ir::Tensor& tensor,
                const dnnl::memory::desc& desc, const ir::Shape& logical_shape = {});

// oneDNN's name of an ISA, e.g. "avx512_core" for dnnl::get_effective_cpu_isa().
std::string isa_name(dnnl::cpu_isa isa);

// The vector width, in floats, of Kiln's own kernels on this CPU: 16 with
// AVX-512, 8 with AVX2 and FMA, 0 without them. oneDNN's limit
// (ONEDNN_MAX_CPU_ISA) counts, so a test can run them as on an older CPU.
int64_t vector_width();
// The name of the loops vector_width() picks, for profiles: "avx512",
// "avx2" or "baseline".
const char* vector_isa_name();

// Runs `build` and turns a oneDNN failure into a kiln::Error naming the node.
template <class F>
auto with_node(const ir::Node& node, F&& build) -> decltype(build());
[[noreturn]] void throw_dnnl_error(const ir::Node& node, const dnnl::error& e);

template <class F>
auto with_node(const ir::Node& node, F&& build) -> decltype(build()) {
  try {
    return build();
  } catch (const dnnl::error& e) {
    throw_dnnl_error(node, e);
  }
}

}  // namespace kiln::ops
