#include "ops/conv_layout.h"

#include "ir/attrs.h"
#include "ops/choice_names.h"
#include "ops/common.h"
#include "ops/conv2d.h"
#include "ops/loop_layout.h"

namespace kiln::ops {

static constexpr ConvLayout kAll[] = {ConvLayout::auto_, ConvLayout::any, ConvLayout::blocked};

const char* conv_layout_name(ConvLayout layout) {
  switch (layout) {
    case ConvLayout::auto_: return "auto";
    case ConvLayout::any: return "any";
    case ConvLayout::blocked: return "blocked";
  }
  return "?";
}

std::optional<ConvLayout> conv_layout_from_name(const std::string& name) {
  return choice_from_name(kAll, conv_layout_name, name);
}

std::string conv_layout_names() { return choice_names(kAll, conv_layout_name); }

namespace {

// The floats of one image of a rank-4 [N, C, H, W] shape.
double image_floats(const ir::Shape& s) {
  return static_cast<double>(s[1]) * static_cast<double>(s[2] * s[3]);
}

}  // namespace

ConvWork conv_work(const ir::Graph& graph) {
  ConvWork work;
  for (const auto& node : graph.nodes()) {
    if (node->op == "channel_shuffle" || node->op == "permute") ++work.channel_movers;
    if (node->op == "concat" && node->output->shape.size() == 4)
      work.concat_floats += image_floats(node->output->shape);
    const ir::Value* weight = conv_weight(*node);
    if (!weight || weight->shape.size() != 4 || node->output->shape.size() != 4) continue;
    const ir::Shape& w = weight->shape;
    const ir::Shape& y = node->output->shape;
    const double macs = image_floats(y) * static_cast<double>(w[1] * w[2] * w[3]);
    const bool pointwise = w[2] == 1 && w[3] == 1;
    const bool grouped = ir::attr_int(*node, "groups", 1) > 1;
    (pointwise || grouped ? work.pointwise_or_grouped : work.other) += macs;
    if (grouped && w[1] > 1 && w[1] % 16 != 0)
      work.misfit_floats += image_floats(node->inputs[0]->shape) + image_floats(y);
  }
  return work;
}

bool convs_blocked(ConvLayout layout, int64_t batch, const ConvWork& work) {
  switch (layout) {
    case ConvLayout::auto_: {
      const double macs = work.pointwise_or_grouped + work.other;
      const bool pointwise_led = batch >= kBlockedConvsFromBatch &&
                                 work.pointwise_or_grouped > 0 &&
                                 work.pointwise_or_grouped >= work.other;
      const bool concat_heavy =
          work.concat_floats > 0 && work.concat_floats >= kBlockedConcatFloatsPerMac * macs;
      const bool misfits =
          work.misfit_floats > 0 && work.misfit_floats >= kBlockedMisfitFloatsPerMac * macs;
      return vector_width() == 16 && work.channel_movers == 0 && !misfits &&
             (pointwise_led || concat_heavy);
    }
    case ConvLayout::any: return false;
    case ConvLayout::blocked: return vector_width() > 0;
  }
  return false;
}

dnnl::memory::format_tag blocked_conv_tag() {
  const int64_t width = vector_width();  // 16, 8, or 0 without AVX2
  return width > 0 ? loop_layout(static_cast<int>(width)).tag : dnnl::memory::format_tag::any;
}

}  // namespace kiln::ops
