#include "engine/inplace_concat.h"

#include <map>

#include "ops/common.h"
#include "ops/view.h"

namespace kiln::engine {

using dnnl::memory;

namespace {

// The channel block of nChw16c / nChw8c, 1 for any layout with no inner
// blocks (C order, nhwc, ...: a slice is then the output's strides over the
// slice's dims), 0 for any other layout.
int64_t block_of(const memory::desc& desc) {
  const dnnl_memory_desc_t& d = desc.data;
  if (d.format_kind != dnnl_blocked) return 0;
  if (d.format_desc.blocking.inner_nblks == 0) return 1;
  const memory::dims dims = desc.dims();
  if (dims.size() != 4) return 0;
  if (desc == memory::desc(dims, memory::data_type::f32, memory::format_tag::nChw16c)) return 16;
  if (desc == memory::desc(dims, memory::data_type::f32, memory::format_tag::nChw8c)) return 8;
  return 0;
}

// What the plan says about each tensor, for the checks.
struct TensorUses {
  std::vector<int> producer;  // the step writing it; -1: a graph input
  std::vector<int> reads;     // how many step inputs read it
  std::vector<bool> overwritten, produced_in_place, graph_output, has_views;

  explicit TensorUses(const PlanImpl& plan)
      : producer(plan.tensors.size(), -1), reads(plan.tensors.size(), 0),
        overwritten(plan.tensors.size(), false), produced_in_place(plan.tensors.size(), false),
        graph_output(plan.tensors.size(), false), has_views(plan.tensors.size(), false) {
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      const Step& step = plan.steps[s];
      producer[step.output] = static_cast<int>(s);
      for (int t : step.inputs) ++reads[t];
      const int inplace = step.inplace_input;
      if (inplace < 0) continue;
      overwritten[step.inputs.at(inplace)] = true;
      produced_in_place[step.output] = true;
    }
    for (int t : plan.output_tensors) graph_output[t] = true;
  }
};

// Where one tensor goes: its byte offset in the root's bytes, its desc there,
// and its producer rebuilt to write that desc (null: the producer stays).
struct Slice {
  size_t offset = 0;
  memory::desc desc;
  std::unique_ptr<ops::Kernel> producer;
};

// The slices of one concat: its inputs (and its output, when it becomes a view too).
struct Placement {
  int root = -1;
  std::map<int, Slice> slices;
};

// Where each input of the concat at `site` would live, or false when it cannot.
bool place(const PlanImpl& plan, const TensorUses& uses, const ConcatSite& site, Placement& out) {
  const Step& step = plan.steps[site.step];
  const PlanTensor& y = plan.tensors[step.output];
  const memory::dims dims = y.desc.dims();
  const int64_t block = block_of(y.desc);
  if (site.has_params || block == 0 || uses.overwritten[step.output]) return false;
  // Blocked layouts only where a slice of whole blocks is a dense tensor of
  // its own: a channel concat at batch 1.
  if (block > 1 && (site.axis != 1 || dims[0] != 1)) return false;
  out.root = y.view_of >= 0 ? y.view_of : step.output;
  size_t base = y.view_of >= 0 ? y.offset : 0;
  const PlanTensor& first = plan.tensors[step.inputs.at(0)];
  const bool output_becomes_view =
      y.view_of < 0 && !uses.has_views[step.output] && first.view_of >= 0;
  if (output_becomes_view) out.root = first.view_of;
  // A tensor's slice: blocked, its own dense desc; else the root's strides over its dims.
  const dnnl_memory_desc_t& root = plan.tensors[out.root].desc.data;
  if (block_of(plan.tensors[out.root].desc) != block) return false;
  const memory::dims root_strides(root.format_desc.blocking.strides,
                                  root.format_desc.blocking.strides + root.ndims);
  // Bytes per index along the axis.
  const int64_t step_bytes = static_cast<int64_t>(sizeof(float)) *
                             (block > 1 ? dims[2] * dims[3] : root_strides[site.axis]);
  auto slice_of = [&](const memory::desc& own) {
    if (block > 1) return own;
    memory::dims strides = root_strides;
    const memory::dims own_dims = own.dims();
    for (size_t d = 0; d < own_dims.size(); ++d) {  // a stride over one index means nothing
      if (own_dims[d] == 1) strides[d] = own.data.format_desc.blocking.strides[d];
    }
    return memory::desc(own_dims, memory::data_type::f32, strides);
  };
  if (output_becomes_view) {
    // The inputs are slices of a later concat already (DenseNet: each layer's
    // concat is a prefix of the block's last): the output is one too, where
    // its readers see no change of layout. Every input must be placed
    // already, in a row, or a new slice could land on another's bytes.
    if (slice_of(y.desc) != y.desc) return false;
    base = first.offset;
    out.slices[step.output] = {base, y.desc, nullptr};
  }
  int64_t start = 0;  // along the axis
  for (int t : step.inputs) {
    const PlanTensor& x = plan.tensors[t];
    const memory::dims x_dims = x.desc.dims();
    const size_t offset = base + static_cast<size_t>(start * step_bytes);
    start += x_dims[site.axis];
    if (block > 1 && (block_of(x.desc) != block || x_dims[1] % block != 0)) return false;
    const memory::desc slice = slice_of(x.desc);
    if (offset % 64 != 0) return false;
    if (x.view_of >= 0 || uses.has_views[t]) {
      // Already a slice of a later concat: fine where it is the same slice.
      if (x.view_of != out.root || x.offset != offset || x.desc != slice) return false;
      continue;
    }
    if (output_becomes_view || uses.producer[t] < 0 || uses.graph_output[t] ||
        uses.overwritten[t] || uses.produced_in_place[t] || t == out.root || out.slices.count(t))
      return false;
    std::unique_ptr<ops::Kernel> producer;
    if (slice != x.desc) {
      // The producer must write the slice's strides, and nobody else may read x.
      if (uses.reads[t] != 1) return false;
      producer = plan.steps[uses.producer[t]].kernel->writing_to(slice);
      if (!producer) return false;
    }
    out.slices[t] = {offset, slice, std::move(producer)};
  }
  return true;
}

}  // namespace

int place_concats_in_place(PlanImpl& plan, const std::vector<ConcatSite>& sites) {
  TensorUses uses(plan);
  int placed = 0;
  for (auto site = sites.rbegin(); site != sites.rend(); ++site) {
    Placement placement;
    if (!place(plan, uses, *site, placement)) continue;
    for (auto& [t, slice] : placement.slices) {
      PlanTensor& tensor = plan.tensors[t];
      tensor.view_of = placement.root;
      tensor.offset = slice.offset;
      tensor.desc = slice.desc;
      if (slice.producer) plan.steps[uses.producer[t]].kernel = std::move(slice.producer);
    }
    uses.has_views[placement.root] = true;
    Step& step = plan.steps[site->step];
    std::vector<memory::desc> inputs;
    for (int t : step.inputs) inputs.push_back(plan.tensors[t].desc);
    step.kernel = std::make_unique<ops::InPlaceKernel>(inputs, plan.tensors[step.output].desc);
    ++placed;
  }
  return placed;
}

}  // namespace kiln::engine
