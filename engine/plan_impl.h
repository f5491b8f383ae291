// What a compiled Plan holds, and what a Context builds from it.
// Internal to engine/ (and white-box tests): everyone else sees engine/engine.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/engine.h"
#include "engine/memory_plan.h"
#include "ops/kernel.h"

namespace kiln::engine {

// An activation in the plan: a graph input, a node output, or a reorder's
// result. It lives in buffer memory.buffer_of[id], from byte
// memory.offset_of[id], while it is alive.
struct PlanTensor {
  std::string name;
  dnnl::memory::desc desc;
  int view_of = -1;   // an in-place concat's input: lives in this tensor's bytes
  size_t offset = 0;  // at this byte offset
};

struct Step {
  std::string name;  // the node's name, or "reorder <value>"
  std::string op;    // the node's op, or "reorder"
  std::unique_ptr<ops::Kernel> kernel;
  std::vector<int> inputs;  // PlanTensor ids
  int output = -1;
  double flops = 0;  // floating-point operations per run, for profiles
  // The input whose buffer the output takes (-1: none): the kernel's own
  // choice (Kernel::inplace_input), or an elementwise step whose input dies
  // there (overwrite_dying_inputs in compile.cpp).
  int inplace_input = -1;
};

struct PlanImpl {
  int64_t batch = 0;
  bool blocked_convs = false;  // the convs asked for the blocked layout (ops/conv_layout.h)
  std::vector<PlanTensor> tensors;
  std::vector<Step> steps;
  MemoryPlan memory;               // a buffer per tensor
  size_t scratchpad_bytes = 0;     // shared by all steps (they run one after another)
  std::vector<int> input_tensors;  // per graph input; plain layout
  std::vector<int> output_tensors; // per graph output; plain layout
  std::vector<std::string> input_names, output_names;
  std::vector<ir::Shape> input_shapes, output_shapes;
};

inline const PlanImpl& plan_impl(const Plan& plan) { return *plan.impl_; }

}  // namespace kiln::engine
