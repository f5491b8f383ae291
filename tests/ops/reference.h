// Plain references for the op tests, in double, written from PyTorch's
// definitions and sharing no code with ops/ (conv2d, linear and batchnorm as
// Eigen matrix expressions, the poolings as loops); plus the small harness
// that runs a one-node graph through the engine and compares the result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace kiln::test {

// A reference result: C-ordered doubles with a shape.
struct RefTensor {
  ir::Shape shape;
  std::vector<double> data;
};

RefTensor to_ref(const ir::Tensor& t);

// --- references (PyTorch semantics) ------------------------------------------

// weight [OC, C/groups, KH, KW]; bias may be null.
RefTensor ref_conv2d(const RefTensor& x, const RefTensor& weight, const RefTensor* bias,
                     std::vector<int64_t> stride, std::vector<int64_t> padding,
                     std::vector<int64_t> dilation, int64_t groups);
// x [N, C, H, W] or [N, C]; gamma and beta both null or both set.
RefTensor ref_batchnorm(const RefTensor& x, const RefTensor& mean, const RefTensor& var,
                        const RefTensor* gamma, const RefTensor* beta, double eps);
RefTensor ref_relu(const RefTensor& x);
RefTensor ref_add(const RefTensor& a, const RefTensor& b);
RefTensor ref_flatten(const RefTensor& x, int64_t start_dim);
// x [..., IN], weight [OUT, IN]: y [..., OUT].
RefTensor ref_linear(const RefTensor& x, const RefTensor& weight, const RefTensor* bias);
RefTensor ref_max_pool2d(const RefTensor& x, std::vector<int64_t> kernel,
                         std::vector<int64_t> stride, std::vector<int64_t> padding,
                         std::vector<int64_t> dilation, bool ceil_mode);
RefTensor ref_avg_pool2d(const RefTensor& x, std::vector<int64_t> kernel,
                         std::vector<int64_t> stride, std::vector<int64_t> padding,
                         bool ceil_mode, bool count_include_pad);
RefTensor ref_global_avg_pool2d(const RefTensor& x);
// a <op> b, op "add", "sub", "mul" or "div", with NumPy broadcasting.
RefTensor ref_binary(const std::string& op, const RefTensor& a, const RefTensor& b);
// The activation `op` (relu, clamp, sigmoid, silu, hardswish, hardsigmoid,
// tanh, gelu, leaky_relu, elu) with the op's attributes, as PyTorch defines it.
double ref_activation(const std::string& op, double x, const ir::Attrs& attrs = {});
RefTensor ref_activation(const std::string& op, const RefTensor& x, const ir::Attrs& attrs = {});

// In reference_shapes.cpp. Axes and dims are non-negative here.
RefTensor ref_concat(const std::vector<RefTensor>& xs, size_t axis);
RefTensor ref_slice(const RefTensor& x, size_t axis, int64_t start, int64_t end);
RefTensor ref_permute(const RefTensor& x, const std::vector<size_t>& dims);
RefTensor ref_mean(const RefTensor& x, const std::vector<size_t>& dims, bool keepdim);
RefTensor ref_adaptive_avg_pool2d(const RefTensor& x, int64_t OH, int64_t OW);
// Over the last `normalized_dims` dims of x; weight and bias may be null.
RefTensor ref_layer_norm(const RefTensor& x, size_t normalized_dims, const RefTensor* weight,
                         const RefTensor* bias, double eps);

// --- harness -----------------------------------------------------------------

// Uniform in [lo, hi), the same for a given seed everywhere.
ir::Tensor random_tensor(const ir::Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0);

// Runs one node: activations become graph inputs "x0", "x1", ... (with a
// symbolic batch), params become parameters "p0", "p1", ..., the node is
// named "node". Returns the node's output.
ir::Tensor run_op(const std::string& op, const std::vector<ir::Tensor>& activations,
                  const std::vector<ir::Tensor>& params, const ir::Attrs& attrs = {});

// An input of a one-node graph, in the node's input order: an activation
// (a graph input) or a parameter.
struct NodeInput {
  ir::Tensor tensor;
  bool param = false;
};
inline NodeInput activation(ir::Tensor t) { return {std::move(t), false}; }
inline NodeInput parameter(ir::Tensor t) { return {std::move(t), true}; }

// Runs one node named "node" with these inputs in this order: activations
// become graph inputs "x0", "x1", ... with a symbolic batch (dim 0 kept as
// given with `fixed_batch`), parameters "p0", "p1", .... Returns its output.
ir::Tensor run_node(const std::string& op, const std::vector<NodeInput>& inputs,
                    const ir::Attrs& attrs = {}, bool fixed_batch = false);

// The same node's kernel compiled directly, its activation inputs handed
// over in the layouts `given` (as a producer that wrote them so would):
// what it asked for, the layout it wrote, and its output in plain layout.
// Inputs it asks for in another layout are reordered for it, as the engine does.
struct KernelRun {
  std::vector<dnnl::memory::desc> asked;  // Kernel::input_desc(i)
  dnnl::memory::desc output;              // Kernel::output_desc()
  std::string implementation;
  ir::Tensor y;
  // The output buffer as the kernel left it, padding included; it held NaN before.
  std::vector<float> written;
};
KernelRun run_kernel(const std::string& op, const std::vector<NodeInput>& inputs,
                     const std::vector<dnnl::memory::desc>& given, const ir::Attrs& attrs = {});
// An f32 desc of `shape` with a format tag (nChw16c, nhwc, ...).
dnnl::memory::desc layout(const ir::Shape& shape, dnnl::memory::format_tag tag);

// The same one-node graph with a fixed batch (the inputs' own dim 0), its
// kernel compiled and run directly with every rank-4 activation handed over
// in layout `tag` (nChw16c, nChw8c or nhwc, as convs write them): the inputs
// are reordered into it (and again if the kernel asks for another), the
// output back to plain. With `last_use` the node is its inputs' last reader,
// so it may work in place.
struct LayoutRun {
  ir::Tensor output;
  std::vector<bool> input_reordered;  // the kernel asked for another layout than `tag`
  dnnl::memory::desc output_desc;     // the layout the kernel wrote
  bool in_place = false;              // the output took an input's buffer
  std::string implementation;
};
LayoutRun run_op_in_layout(const std::string& op, const std::vector<ir::Tensor>& activations,
                           const std::vector<ir::Tensor>& params, const ir::Attrs& attrs,
                           dnnl::memory::format_tag tag, bool last_use = false);

// The node run by the engine on inputs a conv wrote: each rank-4 activation
// goes through a 1x1 identity conv2d first, so the node reads exactly x_i in
// the layout oneDNN picks for convs (blocked or nhwc, never plain). `steps`,
// if given, gets the plan's step ops in order ("conv2d", "reorder", ...).
ir::Tensor run_op_after_conv(const std::string& op, const std::vector<ir::Tensor>& activations,
                             const std::vector<ir::Tensor>& params, const ir::Attrs& attrs,
                             std::vector<std::string>* steps = nullptr);

// Builds the same one-node graph from shapes (random parameter data), runs
// shape inference and returns the kiln::Error message it throws, or "" if none.
std::string validate_error(const std::string& op, const std::vector<ir::Shape>& activations,
                           const std::vector<ir::Shape>& params, const ir::Attrs& attrs = {});

// How many elements differ by more than rtol * max(|want|, 1); the first
// few are listed in `report`.
size_t count_mismatches(const ir::Tensor& got, const RefTensor& want, double rtol,
                        std::string& report);

// Checks (doctest) max |got - want| <= rtol * max |want|: one bound for the
// whole tensor, for kernels whose error scales with the largest output
// (Winograd's transforms scale by up to 8 before values cancel).
void check_close(const ir::Tensor& got, const RefTensor& want, double rtol);

// y = conv2d_add(x, r, w, b?) as node "conv", with x and r graph inputs of a
// symbolic batch and parameters "w" and "b"; with `residual_is_output`, r is
// also a graph output, so it outlives y. Shapes inferred, graph verified.
ir::Graph conv2d_add_graph(const ir::Shape& x_shape, const ir::Shape& r_shape, ir::Tensor weight,
                           const ir::Tensor* bias, const ir::Attrs& attrs,
                           bool residual_is_output);

}  // namespace kiln::test
