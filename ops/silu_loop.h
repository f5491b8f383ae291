// Kiln's own silu, y = x / (1 + e^-x), over a run of floats: oneDNN 2.6's
// eltwise swish is bound by its arithmetic on this Zen 4 (4.2 ms for
// [10, 96, 112, 112] in place, where a relu takes 1.2), and the silu op and
// squeeze_excite's input activation run this loop instead (ops/silu.cpp).
#pragma once

#include <cstdint>

namespace kiln::ops {

using SiluLoop = void (*)(const float* x, float* y, int64_t n);

// The loop compiled for this CPU's vectors (ops/vec.h's PerIsa); x and y may
// be the same buffer.
SiluLoop silu_loop();

}  // namespace kiln::ops
