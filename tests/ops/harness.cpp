// The harness half of tests/ops/reference.h: random tensors, one-node graphs
// run through the engine or straight through an op's kernel, and the
// comparisons against the references in double.
#include "tests/ops/reference.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/engine.h"
#include "engine/plan_impl.h"
#include "ir/error.h"
#include "ir/verify.h"
#include "ops/common.h"
#include "ops/registry.h"
#include "tests/isa.h"

namespace kiln::test {

ir::Tensor random_tensor(const ir::Shape& shape, uint64_t seed, double lo, double hi) {
  ir::Tensor t(shape);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (float& v : t.data) {
    // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = static_cast<double>(z >> 11) / static_cast<double>(1ull << 53);
    v = static_cast<float>(lo + (hi - lo) * u);
  }
  return t;
}

static ir::Graph one_node_graph(const std::string& op, const std::vector<ir::Shape>& activations,
                                const std::vector<ir::Tensor>& params, const ir::Attrs& attrs) {
  ir::Graph g;
  std::vector<ir::Value*> inputs;
  for (size_t i = 0; i < activations.size(); ++i) {
    ir::Shape shape = activations[i];
    if (!shape.empty()) shape[0] = ir::kBatch;
    inputs.push_back(g.add_input("x" + std::to_string(i), shape));
  }
  for (size_t i = 0; i < params.size(); ++i)
    inputs.push_back(g.add_param("p" + std::to_string(i), params[i]));
  ir::Node* node = g.add_node("node", op, inputs, attrs);
  g.set_outputs({node->output});
  return g;
}

static ir::Graph node_graph(const std::string& op, const std::vector<NodeInput>& inputs,
                            const ir::Attrs& attrs, bool fixed_batch) {
  ir::Graph g;
  std::vector<ir::Value*> values;
  size_t activations = 0, params = 0;
  for (const NodeInput& in : inputs) {
    if (in.param) {
      values.push_back(g.add_param("p" + std::to_string(params++), in.tensor));
      continue;
    }
    ir::Shape shape = in.tensor.shape;
    if (!fixed_batch && !shape.empty()) shape[0] = ir::kBatch;
    values.push_back(g.add_input("x" + std::to_string(activations++), shape));
  }
  ir::Node* node = g.add_node("node", op, values, attrs);
  g.set_outputs({node->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  return g;
}

static std::vector<ir::Tensor> activation_tensors(const std::vector<NodeInput>& inputs) {
  std::vector<ir::Tensor> out;
  for (const NodeInput& in : inputs) {
    if (!in.param) out.push_back(in.tensor);
  }
  return out;
}

ir::Tensor run_node(const std::string& op, const std::vector<NodeInput>& inputs,
                    const ir::Attrs& attrs, bool fixed_batch) {
  ir::Graph g = node_graph(op, inputs, attrs, fixed_batch);
  // Compiled from the graph itself, so its parameters are freed before the run:
  // a kernel that kept reading them instead of its packed copy fails here (and
  // under ASan).
  return engine::run_graph(std::move(g), activation_tensors(inputs)).at(0);
}

ir::Tensor run_op(const std::string& op, const std::vector<ir::Tensor>& activations,
                  const std::vector<ir::Tensor>& params, const ir::Attrs& attrs) {
  std::vector<NodeInput> inputs;
  for (const ir::Tensor& t : activations) inputs.push_back(activation(t));
  for (const ir::Tensor& t : params) inputs.push_back(parameter(t));
  return run_node(op, inputs, attrs);
}

dnnl::memory::desc layout(const ir::Shape& shape, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()),
                            dnnl::memory::data_type::f32, tag);
}

KernelRun run_kernel(const std::string& op, const std::vector<NodeInput>& inputs,
                     const std::vector<dnnl::memory::desc>& given, const ir::Attrs& attrs) {
  using dnnl::memory;
  ir::Graph g = node_graph(op, inputs, attrs, /*fixed_batch=*/true);
  const ir::Node& node = *g.nodes().at(0);
  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::stream stream(engine);
  ops::CompileContext ctx{engine, given, {}, ops::ConvAlgo::direct};
  std::unique_ptr<ops::Kernel> kernel = ops::registry().find(op)->compile(node, ctx);

  KernelRun run;
  std::vector<ir::Tensor> xs = activation_tensors(inputs);
  std::vector<memory> bound;
  for (size_t i = 0; i < xs.size(); ++i) {
    memory plain(ops::plain_desc(xs[i].shape), engine, xs[i].data.data());
    memory written(given.at(i), engine);
    dnnl::reorder(plain, written).execute(stream, plain, written);
    run.asked.push_back(kernel->input_desc(i));
    memory read = written;
    if (run.asked[i] != given[i]) {
      read = memory(run.asked[i], engine);
      dnnl::reorder(written, read).execute(stream, written, read);
    }
    bound.push_back(read);
  }
  run.output = kernel->output_desc();
  run.implementation = kernel->implementation();
  memory y(run.output, engine), scratchpad(kernel->scratchpad_desc(), engine);
  run.written.assign(run.output.get_size() / sizeof(float), std::nanf(""));
  y.set_data_handle(run.written.data());
  kernel->execute(stream, kernel->bind(bound, y, scratchpad));
  run.y = ir::Tensor(node.output->shape);
  memory plain_y(ops::plain_desc(run.y.shape), engine, run.y.data.data());
  dnnl::reorder(y, plain_y).execute(stream, y, plain_y);
  stream.wait();
  return run;
}

LayoutRun run_op_in_layout(const std::string& op, const std::vector<ir::Tensor>& activations,
                           const std::vector<ir::Tensor>& params, const ir::Attrs& attrs,
                           dnnl::memory::format_tag tag, bool last_use) {
  using dnnl::memory;
  std::vector<ir::Shape> shapes;
  for (const ir::Tensor& t : activations) shapes.push_back(t.shape);
  ir::Graph g = one_node_graph(op, shapes, params, attrs);
  for (size_t i = 0; i < activations.size(); ++i) g.inputs()[i]->shape = activations[i].shape;
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  const ir::Node& node = *g.nodes().at(0);

  const dnnl::engine& engine = ops::cpu_engine();
  dnnl::stream stream(engine);
  ops::CompileContext ctx{engine, {}, {}, ops::ConvAlgo::direct};
  for (const ir::Tensor& t : activations) {
    ctx.input_descs.push_back(t.shape.size() == 4 ? memory::desc(ops::to_dims(t.shape),
                                                                 memory::data_type::f32, tag)
                                                  : ops::plain_desc(t.shape));
    ctx.last_use.push_back(last_use);
  }
  std::unique_ptr<ops::Kernel> kernel = ops::registry().find(op)->compile(node, ctx);

  LayoutRun run;
  run.output_desc = kernel->output_desc();
  run.implementation = kernel->implementation();
  // Input buffers large enough to take the output in place.
  std::vector<std::vector<float>> buffers;
  std::vector<memory> inputs;
  for (size_t i = 0; i < activations.size(); ++i) {
    memory plain(ops::plain_desc(activations[i].shape), engine,
                 const_cast<float*>(activations[i].data.data()));
    memory given(ctx.input_descs[i], engine);
    dnnl::reorder(plain, given).execute(stream, plain, given);
    run.input_reordered.push_back(kernel->input_desc(i) != ctx.input_descs[i]);
    const size_t bytes = std::max(kernel->input_desc(i).get_size(), run.output_desc.get_size());
    buffers.emplace_back(bytes / sizeof(float) + 1);
    inputs.emplace_back(kernel->input_desc(i), engine, buffers.back().data());
    dnnl::reorder(given, inputs.back()).execute(stream, given, inputs.back());
  }
  run.in_place = kernel->inplace_input() >= 0;
  std::vector<float> output_buffer(run.output_desc.get_size() / sizeof(float) + 1);
  memory output(run.output_desc, engine,
                run.in_place ? inputs.at(static_cast<size_t>(kernel->inplace_input())).get_data_handle()
                             : output_buffer.data());
  memory scratchpad = kernel->scratchpad_desc().get_size() ? memory(kernel->scratchpad_desc(), engine)
                                                            : memory();
  kernel->execute(stream, kernel->bind(inputs, output, scratchpad));
  run.output = ir::Tensor(node.output->shape);
  memory plain_out(ops::plain_desc(node.output->shape), engine, run.output.data.data());
  dnnl::reorder(output, plain_out).execute(stream, output, plain_out);
  stream.wait();
  return run;
}

ir::Tensor run_op_after_conv(const std::string& op, const std::vector<ir::Tensor>& activations,
                             const std::vector<ir::Tensor>& params, const ir::Attrs& attrs,
                             std::vector<std::string>* steps) {
  ir::Graph g;
  std::vector<ir::Value*> inputs;
  for (size_t i = 0; i < activations.size(); ++i) {
    ir::Shape shape = activations[i].shape;
    shape[0] = ir::kBatch;
    const std::string name = "x" + std::to_string(i);
    ir::Value* x = g.add_input(name, shape);
    if (shape.size() == 4) {
      const int64_t C = shape[1];
      ir::Tensor identity({C, C, 1, 1});
      for (int64_t c = 0; c < C; ++c) identity.data[static_cast<size_t>(c * C + c)] = 1.f;
      x = g.add_node(name + ".conv", "conv2d", {x, g.add_param(name + ".conv.weight", identity)})
              ->output;
    }
    inputs.push_back(x);
  }
  for (size_t i = 0; i < params.size(); ++i)
    inputs.push_back(g.add_param("p" + std::to_string(i), params[i]));
  ir::Node* node = g.add_node("node", op, inputs, attrs);
  g.set_outputs({node->output});
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  engine::Plan plan = engine::compile(std::move(g), activations.at(0).shape[0]);  // frees the params
  const engine::PlanImpl& impl = engine::plan_impl(plan);
  if (steps) steps->clear();
  for (const engine::Step& s : impl.steps) {
    if (steps) steps->push_back(s.op);
    // What the harness promises: the node reads a conv's layout, not plain.
    // (Without AVX2, oneDNN's SSE4.1 convs may write plain for few channels.)
    const dnnl::memory::desc& out = impl.tensors.at(static_cast<size_t>(s.output)).desc;
    const dnnl::memory::dims dims = out.dims();
    if (s.op == "conv2d" && has_avx2())
      CHECK(out != ops::plain_desc(ir::Shape(dims.begin(), dims.end())));
  }
  engine::Context context(plan);
  return context.run(activations).at(0);
}

std::string validate_error(const std::string& op, const std::vector<ir::Shape>& activations,
                           const std::vector<ir::Shape>& params, const ir::Attrs& attrs) {
  std::vector<ir::Tensor> tensors;
  for (size_t i = 0; i < params.size(); ++i) tensors.push_back(random_tensor(params[i], i + 1));
  ir::Graph g = one_node_graph(op, activations, tensors, attrs);
  try {
    ir::infer_shapes(g, ops::registry().schemas());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

size_t count_mismatches(const ir::Tensor& got, const RefTensor& want, double rtol,
                        std::string& report) {
  report.clear();
  if (got.shape != want.shape || got.data.size() != want.data.size()) {
    report = "shape " + ir::shape_str(got.shape) + ", expected " + ir::shape_str(want.shape);
    return std::max<size_t>(1, want.data.size());
  }
  size_t bad = 0;
  for (size_t i = 0; i < want.data.size(); ++i) {
    double g = got.data[i], w = want.data[i];
    if (std::abs(g - w) <= rtol * std::max(std::abs(w), 1.0)) continue;
    if (++bad <= 5)
      report += "[" + std::to_string(i) + "] got " + std::to_string(g) + ", expected " +
                std::to_string(w) + "; ";
  }
  return bad;
}

void check_close(const ir::Tensor& got, const RefTensor& want, double rtol) {
  REQUIRE(got.shape == want.shape);
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < want.data.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(want.data[i]));
    max_err = std::max(max_err, std::abs(static_cast<double>(got.data[i]) - want.data[i]));
  }
  INFO("max |error| " << max_err << ", max |reference| " << max_ref);
  CHECK(max_err <= rtol * max_ref);
}

ir::Graph conv2d_add_graph(const ir::Shape& x_shape, const ir::Shape& r_shape, ir::Tensor weight,
                           const ir::Tensor* bias, const ir::Attrs& attrs,
                           bool residual_is_output) {
  ir::Graph g;
  ir::Value* x = g.add_input("x", {ir::kBatch, x_shape[1], x_shape[2], x_shape[3]});
  ir::Value* r = g.add_input("r", {ir::kBatch, r_shape[1], r_shape[2], r_shape[3]});
  std::vector<ir::Value*> inputs = {x, r, g.add_param("w", std::move(weight))};
  if (bias) inputs.push_back(g.add_param("b", *bias));
  ir::Node* node = g.add_node("conv", "conv2d_add", inputs, attrs);
  if (residual_is_output) {
    g.set_outputs({node->output, r});
  } else {
    g.set_outputs({node->output});
  }
  ir::infer_shapes(g, ops::registry().schemas());
  ir::verify(g, ops::registry().schemas());
  return g;
}

}  // namespace kiln::test
