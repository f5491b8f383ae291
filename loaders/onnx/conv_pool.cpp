// Conv, MaxPool, AveragePool and GlobalAveragePool -> conv2d, max_pool2d,
// avg_pool2d, global_avg_pool2d.
//
// ONNX pads each side on its own (pads = [top, left, bottom, right]) and may
// ask for "same" padding (auto_pad); Kiln pads both sides of a dimension
// alike, so uneven padding is unsupported. ONNX's default stride is 1 for
// pools too (Kiln's is the kernel), and AveragePool's count_include_pad
// defaults to 0 (Kiln's to 1): both are always written out.
#include <cstdint>
#include <limits>

#include "ir/tensor.h"
#include "loaders/onnx/handlers.h"

namespace kiln::loaders::from_onnx {

namespace {

// Window sizes above this are refused, so the output-size arithmetic below
// and in Kiln's ops stays far from int64 overflow.
constexpr int64_t kMaxWindowValue = std::numeric_limits<int32_t>::max();

// ONNX's pads [top, left, bottom, right] when there are none.
const std::vector<int64_t> kNoPads = {0, 0, 0, 0};

struct Window {
  std::vector<int64_t> stride, padding, dilation;
  bool same = false;  // auto_pad SAME_*: the output size is ceil(input / stride)
};

std::vector<int64_t> int_list(const OnnxNode& n, const char* name, size_t count, int64_t min,
                              const std::vector<int64_t>& fallback) {
  std::vector<int64_t> v = n.attr_ints(name, fallback);
  bool ok = v.size() == count;
  for (int64_t x : v) ok = ok && x >= min && x <= kMaxWindowValue;
  if (!ok)
    n.fail(std::string("attribute '") + name + "': expected " + std::to_string(count) +
           (min > 0 ? " positive" : " non-negative") + " integers, got " + list_str(v));
  return v;
}

// strides, dilations, pads and auto_pad, over x [N, C, H, W] with a kernel
// [KH, KW]; `zero_pads` [top, left, bottom, right] of a Pad before the node
// (OnnxNode::padded_activation) add to its pads.
Window read_window(const OnnxNode& n, const ir::Shape& x, const std::vector<int64_t>& kernel,
                   const std::vector<int64_t>& zero_pads = kNoPads) {
  Window w;
  w.stride = int_list(n, "strides", 2, 1, {1, 1});
  w.dilation = int_list(n, "dilations", 2, 1, {1, 1});
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  const bool padded = zero_pads != kNoPads;
  if (padded && auto_pad != "NOTSET")
    n.unsupported("auto_pad " + auto_pad.substr(0, 40) + " after a Pad");
  if (auto_pad == "NOTSET") {
    std::vector<int64_t> pads = int_list(n, "pads", 4, 0, kNoPads);
    for (size_t i = 0; i < 4; ++i) {
      if (zero_pads[i] > kMaxWindowValue - pads[i])
        n.unsupported("pads " + list_str(pads) + " after a Pad " + list_str(zero_pads) + ": too large");
      pads[i] += zero_pads[i];
    }
    if (pads[0] != pads[2] || pads[1] != pads[3])
      n.unsupported("pads " + list_str(pads) + " differ at the start and the end of a dimension "
                    "(Kiln pads both sides alike)");
    w.padding = {pads[0], pads[1]};
    return w;
  }
  if (n.has_attr("pads")) n.fail("attribute 'pads' is given with auto_pad " + auto_pad);
  if (auto_pad == "VALID") {
    w.padding = {0, 0};
    return w;
  }
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    n.fail("attribute 'auto_pad': expected NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '" +
           auto_pad.substr(0, 40) + "'");
  w.same = true;
  for (size_t d = 0; d < 2; ++d) {
    const int64_t in = x[2 + d], s = w.stride[d];
    const int64_t out = (in + s - 1) / s;
    const int64_t extent = (kernel[d] - 1) * w.dilation[d] + 1;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
    if (total % 2 != 0)
      n.unsupported("auto_pad " + auto_pad + " pads dimension " + std::to_string(2 + d) + " by " +
                    std::to_string(total) + ", unevenly (Kiln pads both sides alike)");
    w.padding.push_back(total / 2);
  }
  return w;
}

// x as an image [N, C, H, W]; with `zero_pads`, a Pad before the node is
// taken in (its [top, left, bottom, right]), else refused.
ir::Value* image_input(const OnnxNode& n, std::vector<int64_t>* zero_pads = nullptr) {
  ir::Value* x = zero_pads ? n.padded_activation(0, zero_pads) : n.activation(0);
  if (x->shape.size() != 4)
    n.unsupported("input " + ir::shape_str(x->shape) + " is not [N, C, H, W] (Kiln has 2-D convolution "
                  "and pooling only)");
  return x;
}

std::vector<int64_t> pool_kernel(const OnnxNode& n) {
  if (!n.has_attr("kernel_shape")) n.fail("attribute 'kernel_shape' is required");
  const size_t rank = n.attr_ints("kernel_shape", {}).size();
  if (rank != 2)
    n.unsupported(std::to_string(rank) + "-D pooling (Kiln pools 2-D only)");
  return int_list(n, "kernel_shape", 2, 1, {});
}

int64_t flag(const OnnxNode& n, const char* name) {
  int64_t v = n.attr_int(name, 0);
  if (v != 0 && v != 1) n.fail(std::string("attribute '") + name + "': expected 0 or 1, got " + std::to_string(v));
  return v;
}

// What MaxPool and AveragePool share.
struct Pool {
  ir::Value* x;
  std::vector<int64_t> kernel;
  Window win;
  int64_t ceil_mode;  // 0 under auto_pad SAME_*, whose padding already gives ceil(input / stride)
};

// `zero_pads`: as image_input's.
Pool read_pool(const OnnxNode& n, std::vector<int64_t>* zero_pads = nullptr) {
  Pool p;
  p.kernel = pool_kernel(n);
  p.x = image_input(n, zero_pads);
  p.win = zero_pads ? read_window(n, p.x->shape, p.kernel, *zero_pads)
                    : read_window(n, p.x->shape, p.kernel);
  p.ceil_mode = p.win.same ? 0 : flag(n, "ceil_mode");
  return p;
}

}  // namespace

void convert_conv(OnnxNode& n) {
  n.check_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  std::shared_ptr<const Constant> w = n.constant(1);
  if (w->shape.size() < 3) n.fail("weight " + ir::shape_str(w->shape) + ": expected [OC, C/group, kernel...]");
  if (w->shape.size() != 4)
    n.unsupported(std::to_string(w->shape.size() - 2) + "-D convolution (Kiln has conv2d only)");
  std::vector<int64_t> zero_pads;
  ir::Value* x = image_input(n, &zero_pads);
  const std::vector<int64_t> kernel = {w->shape[2], w->shape[3]};
  if (n.has_attr("kernel_shape") && n.attr_ints("kernel_shape", {}) != kernel)
    n.fail("attribute 'kernel_shape' " + list_str(n.attr_ints("kernel_shape", {})) +
           " disagrees with the weight " + ir::shape_str(w->shape));
  if (kernel[0] > kMaxWindowValue || kernel[1] > kMaxWindowValue)
    n.fail("weight " + ir::shape_str(w->shape) + ": kernel too large");
  const Window win = read_window(n, x->shape, kernel, zero_pads);
  const int64_t group = n.attr_int("group", 1);
  if (group < 1) n.fail("attribute 'group': expected a positive integer, got " + std::to_string(group));

  std::vector<ir::Value*> inputs = {x, n.param(1)};
  if (n.has_input(2)) inputs.push_back(n.param(2));
  n.add_node("conv2d", inputs,
             {{"stride", win.stride}, {"padding", win.padding}, {"dilation", win.dilation}, {"groups", group}});
}

void convert_max_pool(OnnxNode& n) {
  n.check_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  const Pool p = read_pool(n);
  n.add_node("max_pool2d", {p.x},
             {{"kernel", p.kernel}, {"stride", p.win.stride}, {"padding", p.win.padding},
              {"dilation", p.win.dilation}, {"ceil_mode", p.ceil_mode}});
}

void convert_average_pool(OnnxNode& n) {
  n.check_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  std::vector<int64_t> zero_pads;
  const Pool p = read_pool(n, &zero_pads);
  int64_t count_include_pad = flag(n, "count_include_pad");
  if (zero_pads != kNoPads) {
    // The Pad's zeros are input: they count. The node's own padding must then count too.
    if (count_include_pad == 0 && n.attr_ints("pads", kNoPads) != kNoPads)
      n.unsupported("pads of its own, not counted, after a Pad");
    for (size_t d = 0; d < 2; ++d) {
      if (p.win.padding[d] > p.kernel[d] / 2)
        n.unsupported("padding " + list_str(p.win.padding) + " with a Pad before it, more than "
                      "half the kernel " + list_str(p.kernel) + " (Kiln's pools pad at most that)");
    }
    count_include_pad = 1;
  }
  n.add_node("avg_pool2d", {p.x},
             {{"kernel", p.kernel}, {"stride", p.win.stride}, {"padding", p.win.padding},
              {"ceil_mode", p.ceil_mode}, {"count_include_pad", count_include_pad}});
}

void convert_global_average_pool(OnnxNode& n) {
  n.check_attrs({});
  n.add_node("global_avg_pool2d", {image_input(n)});
}

}  // namespace kiln::loaders::from_onnx
