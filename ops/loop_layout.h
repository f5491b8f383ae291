// The activation layouts Kiln's own elementwise loops (concat_batchnorm,
// squeeze_excite) read and write: channels last (nhwc), or blocks of B
// channels with one block's pixels contiguous (B = 1 is nchw; 8 and 16 are
// nChw8c and nChw16c, as oneDNN's convs write them).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace kiln::ops {

constexpr int kChannelsLast = 0;

struct LoopLayout {
  int block;  // kChannelsLast, or B
  dnnl::memory::format_tag tag;
  const char* name;
};

inline constexpr LoopLayout kLoopLayouts[] = {
    {kChannelsLast, dnnl::memory::format_tag::nhwc, "nhwc"},
    {1, dnnl::memory::format_tag::nchw, "nchw"},
    {8, dnnl::memory::format_tag::nChw8c, "nChw8c"},
    {16, dnnl::memory::format_tag::nChw16c, "nChw16c"}};

// The layout with this block (nhwc for an unknown one).
inline const LoopLayout& loop_layout(int block) {
  for (const LoopLayout& l : kLoopLayouts)
    if (l.block == block) return l;
  return kLoopLayouts[0];
}

// The block of the layout `desc` (a rank-4 f32 tensor) is in, or -1 if none.
inline int loop_block_of(const dnnl::memory::desc& desc) {
  for (const LoopLayout& l : kLoopLayouts)
    if (desc == dnnl::memory::desc(desc.dims(), dnnl::memory::data_type::f32, l.tag))
      return l.block;
  return -1;
}

}  // namespace kiln::ops
