// The file where `--conv-algo tune` keeps what it timed, for `auto` to
// follow: conv-tune.json in the user's cache folder, one entry per CPU and
// conv layer (ops/conv_tune.h). Reading never fails a compile: a file that
// is missing is empty; one that cannot be read or parsed, or is of another
// format, is ignored with one warning on stderr per process. Writing
// replaces the file whole (loaders/atomic_write.h) and keeps the other
// CPUs' and layers' entries; a failed write warns and the compile goes on.
//
//   {"format": "kiln conv-tune", "version": 1, "cpus": {
//     "AMD EPYC 9R14 96-Core Processor; oneDNN 2.6.0 avx512_core_bf16; 2 threads": {
//       "conv2d x [1, 64, 56, 56] weight [64, 64, 3, 3] bias stride [1, 1] ...":
//         {"direct": 0.412, "onednn winograd": 0.331, "kiln winograd": 0.3}, ...}}}
#pragma once

#include <string>

#include "ops/conv_algo.h"

namespace kiln::engine {

// The cache file: conv-tune.json in $KILN_CACHE_DIR if set, else in
// $XDG_CACHE_HOME/kiln (if an absolute path), else in $HOME/.cache/kiln;
// "" when none of them is set.
std::string conv_tune_cache_path();

// This CPU as tunings are kept for it: its brand string (cpuid, else
// /proc/cpuinfo), oneDNN's version and the ISA it uses (which
// ONEDNN_MAX_CPU_ISA may lower), and the threads kernels run on now.
std::string conv_tune_cpu_key();

// The tunings stored in `path` for `cpu`; none if there are none (see above).
ops::ConvTunings read_conv_tunings(const std::string& path, const std::string& cpu);

// Stores `tunings` for `cpu` in `path`, over the entries of the same layers;
// creates the cache folder if missing.
void write_conv_tunings(const std::string& path, const std::string& cpu,
                        const ops::ConvTunings& tunings);

}  // namespace kiln::engine
