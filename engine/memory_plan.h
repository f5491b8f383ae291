// The buffer planner: which buffer holds each activation of a plan.
//
// It sees the plan as numbered tensors and the steps that read and write
// them, nothing of oneDNN, so it can be tested on a plan written by hand.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kiln::engine {

// An activation: a graph input, a step's output, or a reorder's result.
// A view lives inside another tensor's bytes (an in-place concat's input,
// written by its producer straight into its slice of the concat's output).
struct MemoryTensor {
  std::string name;  // for error messages
  size_t bytes = 0;
  int view_of = -1;  // the tensor whose bytes hold this one (itself no view); -1: its own buffer
  size_t offset = 0; // a view's first byte within view_of's bytes
};

// One step of the plan, as the planner sees it: the tensors it reads, the one
// it writes, and whether it writes over one of its inputs.
struct MemoryStep {
  std::string name;         // for error messages
  std::vector<int> inputs;  // tensor ids, read
  int output = -1;          // tensor id, written
  int inplace_input = -1;   // index into `inputs` whose buffer the output overwrites; -1: none
};

struct MemoryPlan {
  std::vector<int> buffer_of;        // per tensor: its buffer, -1 if it never gets one
  std::vector<size_t> offset_of;     // per tensor: its first byte in its buffer (views only)
  std::vector<size_t> buffer_bytes;  // per buffer: its size
  size_t total_bytes() const;        // what a Context allocates for activations
};

// Gives every tensor a buffer, by liveness: a tensor holds its buffer from
// the step that writes it to the last step that reads it, and tensors whose
// lives do not meet may share one. The tensors are packed two ways, and the
// plan with the smaller total kept: walking the steps, each new tensor takes
// the smallest free buffer that holds it (else the largest, grown); and
// largest first, each tensor goes into the smallest buffer that nothing
// alive with it holds (else a new one).
// A step's output never shares a buffer with its inputs, except its in-place
// input, whose buffer it takes over: that input must die at that step (no
// later reader, not a graph output) and be none of its other inputs, else
// kiln::Error names the step.
// Graph inputs hold their buffers from the start, graph outputs to the end.
// A tensor and its views share one buffer, held from the first step writing
// any of them to the last step reading any of them; a graph input cannot be
// a view or have views, and a step may not work in place on either.
MemoryPlan plan_memory(const std::vector<MemoryTensor>& tensors,
                       const std::vector<MemoryStep>& steps, const std::vector<int>& graph_inputs,
                       const std::vector<int>& graph_outputs);

}  // namespace kiln::engine
