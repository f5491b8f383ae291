// The activation layout convolutions ask oneDNN for, and its names.
//
// With format_tag::any oneDNN 2.6 gives a conv the layout its fastest kernel
// reads for that conv alone: nChw8c on AVX2, but nhwc on AVX-512, where its
// brgconv kernels run. On AVX-512 its nChw16c kernels for 1x1 and grouped
// (depthwise) convs, jit_1x1 and jit_dw, beat brgconv on a batch of several
// images, while brgconv stays faster on the other convs (a ResNet's stem and
// strided 3x3s). So `auto` asks for nChw16c on AVX-512 where the batch has
// kBlockedConvsFromBatch images or more, the graph's 1x1 and grouped convs
// hold at least half its conv multiply-adds (MobileNets, EfficientNets,
// RegNets, ResNet-50, DenseNets; not ResNet-18, GoogLeNet or ConvNeXt), and
// no node shuffles or permutes channels (ShuffleNets). It also asks for
// nChw16c, at any batch, where channel concats write
// kBlockedConcatFloatsPerMac floats or more per conv multiply-add
// (SqueezeNets): blocked, the engine places such concats in place at batch 1
// and copies whole blocks at larger batches. It never asks where grouped
// convs that oneDNN cannot run in nChw16c carry kBlockedMisfitFloatsPerMac
// floats or more per conv multiply-add (RegNets of 8 or 24 channels a
// group): each would be reordered in and out. Measured in bench/README,
// "Convolutions in nChw16c", "Concat-heavy graphs blocked" and "Grouped
// convs that do not fit nChw16c".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"

namespace kiln::ops {

enum class ConvLayout {
  // Named "auto" everywhere; `auto` is a C++ keyword, hence the underscore.
  auto_,    // blocked on AVX-512 where the rule above holds, else any
  any,      // whatever oneDNN picks (format_tag::any)
  blocked,  // nChw16c on AVX-512, nChw8c on AVX2; any without AVX2
};

// Under ConvLayout::auto_, the batch from which convs may ask for nChw16c.
inline constexpr int64_t kBlockedConvsFromBatch = 6;

// Under ConvLayout::auto_, the floats channel concats write per conv
// multiply-add from which convs ask for nChw16c at any batch. SqueezeNet 1.1
// writes 4.2e-3, 1.0 3.3e-3, and ran 0.85-0.88x / 0.91-0.95x the time
// blocked at batch 1 to 10; GoogLeNet (0.8e-3) and Inception-v3 (0.5e-3)
// lost 1.09x blocked at batch 1.
inline constexpr double kBlockedConcatFloatsPerMac = 2e-3;

// Under ConvLayout::auto_, the floats in and out of misfit grouped convs
// (ConvWork::misfit_floats) per conv multiply-add from which convs never ask
// for nChw16c. At batch 6 / 10, blocked against nhwc (AMD Zen 5): RegNetY-400MF
// (6.0e-3) 1.12x / 1.09x the time, RegNetY-1.6GF and RegNetX-1.6GF (3.2e-3)
// 1.12x / 1.06x and 1.11x / 1.06x, RegNetY-3.2GF (2.3e-3) 1.12x / 0.90x,
// RegNetY-8GF (1.6e-3) 0.93x / 0.95x, ResNeXt-50 32x4d (1.1e-3) 0.95x /
// 0.94x, ResNeXt-101 32x8d (0.3e-3) 0.91x / 0.92x.
inline constexpr double kBlockedMisfitFloatsPerMac = 2.7e-3;

// The names engine-run's --conv-layout uses: "auto", "any", "blocked".
const char* conv_layout_name(ConvLayout layout);
std::optional<ConvLayout> conv_layout_from_name(const std::string& name);
// "auto, any or blocked", for error messages.
std::string conv_layout_names();

// The multiply-adds of a graph's oneDNN convolutions (conv2d, conv2d_add),
// split by kernel shape: 1x1 or grouped, and every other; the floats its
// rank-4 concats write; and how many nodes move channels or dims
// (channel_shuffle, permute), which cost more around blocked convs than
// around nhwc ones: ShuffleNetV2 ran 1.06x slower blocked at batch 10 (its
// shuffles copy 58-channel partial blocks plane by plane), and a permute
// reorders a blocked tensor first; and the floats in and out of grouped convs
// whose channels per group are more than one and not a multiple of 16, for
// which oneDNN 2.6 has no nChw16c kernel (it picks nChw8c or nhwc, so among
// blocked convs each costs a reorder in and one out).
struct ConvWork {
  double pointwise_or_grouped = 0;
  double other = 0;
  int64_t channel_movers = 0;
  double concat_floats = 0;
  double misfit_floats = 0;
};
// The graph's shapes must be inferred; the batch dimension counts as 1.
ConvWork conv_work(const ir::Graph& graph);

// Whether convs compiled for `batch` images of a graph with `work` ask for
// the blocked layout (blocked_conv_tag()) on this CPU under `layout`.
bool convs_blocked(ConvLayout layout, int64_t batch, const ConvWork& work);

// The blocked layout on this CPU: nChw16c with AVX-512, nChw8c with AVX2,
// format_tag::any without either.
dnnl::memory::format_tag blocked_conv_tag();

}  // namespace kiln::ops
