#include "ops/common.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "ir/attrs.h"
#include "ir/error.h"
#include "ir/large_buffer.h"
#include "ops/registry.h"

namespace kiln::ops {

using dnnl::memory;

void require_activation(const ir::Node& node, size_t index, const std::string& what) {
  if (node.inputs.at(index)->is_param())
    throw Error(node.where(), "input " + std::to_string(index) + " (" + what + ") '" +
                                  node.inputs[index]->name +
                                  "' must be an activation, got a parameter");
}

void require_param(const ir::Node& node, size_t index, const std::string& what) {
  if (!node.inputs.at(index)->is_param())
    throw Error(node.where(), "input " + std::to_string(index) + " (" + what + ") '" +
                                  node.inputs[index]->name +
                                  "' must be a parameter, got an activation");
}

void require_rank(const ir::Node& node, size_t index, const std::string& what, size_t rank) {
  const ir::Shape& s = node.inputs.at(index)->shape;
  if (s.size() != rank)
    throw Error(node.where(), what + " '" + node.inputs[index]->name + "': expected rank " +
                                  std::to_string(rank) + ", got shape " + ir::shape_str(s));
}

void require_nchw(const ir::Node& node, size_t index, const std::string& what) {
  require_rank(node, index, what, 4);
  const ir::Shape& x = node.inputs[index]->shape;
  for (size_t d = 1; d < 4; ++d) {
    if (x[d] < 1)
      throw Error(node.where(), what + " '" + node.inputs[index]->name +
                                    "': expected positive C, H, W, got " + ir::shape_str(x));
  }
}

void require_shape(const ir::Node& node, size_t index, const std::string& what,
                   const ir::Shape& shape) {
  const ir::Shape& s = node.inputs.at(index)->shape;
  if (s != shape)
    throw Error(node.where(), what + " '" + node.inputs[index]->name + "': expected shape " +
                                  ir::shape_str(shape) + ", got " + ir::shape_str(s));
}

void require_joinable(const ir::Node& node, size_t count, size_t axis) {
  const ir::Value* first = node.inputs[0];
  for (size_t i = 0; i < count; ++i) {
    const ir::Value* in = node.inputs[i];
    // Ranks first: `axis` was checked against the first input's rank only.
    bool same = in->shape.size() == first->shape.size();
    if (same && in->shape[axis] == ir::kBatch)
      throw Error(node.where(), "attribute 'axis': cannot concatenate along the symbolic batch of '" +
                                    in->name + "' " + ir::shape_str(in->shape));
    for (size_t d = 0; same && d < first->shape.size(); ++d)
      same = d == axis || in->shape[d] == first->shape[d];
    if (!same)
      throw Error(node.where(), "inputs must have equal shapes except along dim " +
                                    std::to_string(axis) + ", got '" + first->name + "' " +
                                    ir::shape_str(first->shape) + " and '" + in->name + "' " +
                                    ir::shape_str(in->shape));
  }
}

void require_rank_1_to_max(const ir::Node& node, size_t index, const std::string& what) {
  const ir::Shape& x = node.inputs.at(index)->shape;
  bool ok = !x.empty() && x.size() <= kMaxRank;
  for (size_t d = 0; ok && d < x.size(); ++d) ok = x[d] >= 1 || (d == 0 && x[d] == ir::kBatch);
  if (!ok)
    throw Error(node.where(), what + " '" + node.inputs[index]->name + "': expected rank 1 to " +
                                  std::to_string(kMaxRank) + " with positive sizes, got shape " +
                                  ir::shape_str(x));
}

size_t normalize_axis(const ir::Node& node, const std::string& attr, int64_t axis, size_t rank,
                      const std::string& what) {
  const int64_t r = static_cast<int64_t>(rank);
  int64_t d = axis < 0 ? axis + r : axis;
  if (d < 0 || d >= r)
    throw Error(node.where(), "attribute '" + attr + "': expected a dimension of " + what +
                                  " (rank " + std::to_string(rank) + "), got " +
                                  std::to_string(axis));
  return static_cast<size_t>(d);
}

double read_eps(const ir::Node& node) {
  double eps = ir::attr_real(node, "eps", 1e-5);
  if (!(eps >= 0) || !std::isfinite(eps))
    throw Error(node.where(), "attribute 'eps': expected a finite non-negative number, got " +
                                  ir::attr_str(node.attrs.at("eps")));
  return eps;
}

memory::dims to_dims(const ir::Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

memory::desc plain_desc(const ir::Shape& shape) {
  using tag = memory::format_tag;
  static const tag tags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  if (shape.empty() || shape.size() > 6)
    throw Error("plain_desc: unsupported rank " + std::to_string(shape.size()));
  return memory::desc(to_dims(shape), memory::data_type::f32, tags[shape.size()]);
}

memory::desc same_layout(const memory::desc& like, const memory::dims& dims) {
  using tag = memory::format_tag;
  // Per rank: plain, channels last, channel blocks of 8 and 16.
  static const std::vector<std::vector<tag>> tags = {
      {}, {}, {tag::ab}, {tag::abc, tag::acb, tag::aBc8b, tag::aBc16b},
      {tag::abcd, tag::acdb, tag::aBcd8b, tag::aBcd16b},
      {tag::abcde, tag::acdeb, tag::aBcde8b, tag::aBcde16b}};
  const memory::dims like_dims = like.dims();
  if (like_dims.size() == dims.size() && dims.size() < tags.size()) {
    for (tag t : tags[dims.size()]) {
      if (memory::desc(like_dims, memory::data_type::f32, t) == like)
        return memory::desc(dims, memory::data_type::f32, t);
    }
  }
  return plain_desc(ir::Shape(dims.begin(), dims.end()));
}

bool is_reference(const std::string& implementation) {
  return implementation.rfind("ref", 0) == 0;
}

dnnl::primitive_attr make_attr(const dnnl::post_ops& post_ops) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(post_ops);
  return attr;
}

void pack_param(Constants& constants, int arg, const ir::Tensor& tensor, const memory::desc& desc,
                const ir::Shape& logical_shape) {
  const dnnl::engine& engine = cpu_engine();
  ir::Shape shape = logical_shape.empty() ? tensor.shape : logical_shape;
  memory::desc plain = plain_desc(shape);
  // The packed copy is written once here and read on every run: huge pages
  // (ir/large_buffer.h) make writing it cheap.
  const size_t bytes = desc.get_size();
  std::shared_ptr<void> storage(ir::allocate_large(bytes), ir::free_large);
  memory dst(desc, engine, storage.get());
  if (plain == desc) {
    std::memcpy(dst.get_data_handle(), tensor.data.data(), tensor.data.size() * sizeof(float));
  } else {
    // The reorder reads the tensor's own data in place; it never writes its source.
    memory src(plain, engine, const_cast<float*>(tensor.data.data()));
    dnnl::stream stream(engine);
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
  }
  constants.args[arg] = dst;
  constants.storage.push_back(std::move(storage));
}

static bool has_isa(dnnl::cpu_isa isa) {
  const int effective = static_cast<int>(dnnl::get_effective_cpu_isa());
  return (effective & static_cast<int>(isa)) == static_cast<int>(isa);
}

int64_t vector_width() {
  if (has_isa(dnnl::cpu_isa::avx512_core) && __builtin_cpu_supports("avx512f")) return 16;
  if (has_isa(dnnl::cpu_isa::avx2) && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return 8;
  return 0;
}

const char* vector_isa_name() {
  const int64_t width = vector_width();
  return width == 16 ? "avx512" : width == 8 ? "avx2" : "baseline";
}

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "isa " + std::to_string(static_cast<int>(isa));
  }
}

void throw_dnnl_error(const ir::Node& node, const dnnl::error& e) {
  throw Error(node.where(), std::string("oneDNN: ") + e.what());
}

}  // namespace kiln::ops
