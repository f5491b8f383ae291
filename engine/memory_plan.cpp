#include "engine/memory_plan.h"

#include <algorithm>

#include "ir/error.h"

namespace kiln::engine {

size_t MemoryPlan::total_bytes() const {
  size_t total = 0;
  for (size_t b : buffer_bytes) total += b;
  return total;
}

namespace {

// The buffers while the plan is walked step by step.
class BufferPool {
 public:
  BufferPool(const std::vector<MemoryTensor>& tensors, MemoryPlan& plan)
      : tensors_(tensors), plan_(plan) {
    plan_.buffer_of.assign(tensors.size(), -1);
  }

  // Gives `tensor` the smallest free buffer that holds it, else the largest
  // free one (grown), else a new one.
  void acquire(int tensor) {
    const size_t bytes = tensors_[tensor].bytes;
    const std::vector<size_t>& size = plan_.buffer_bytes;
    int best = -1;
    for (int b : free_) {
      if (best < 0) { best = b; continue; }
      bool fits = size[b] >= bytes, best_fits = size[best] >= bytes;
      if (fits && (!best_fits || size[b] < size[best])) best = b;
      if (!fits && !best_fits && size[b] > size[best]) best = b;
    }
    if (best < 0) {
      plan_.buffer_bytes.push_back(0);
      best = static_cast<int>(plan_.buffer_bytes.size()) - 1;
    } else {
      free_.erase(std::find(free_.begin(), free_.end(), best));
    }
    plan_.buffer_bytes[best] = std::max(plan_.buffer_bytes[best], bytes);
    plan_.buffer_of[tensor] = best;
  }

  // Lets `to` take over the buffer of `from`, which dies here.
  void hand_over(int from, int to) { plan_.buffer_of[to] = plan_.buffer_of[from]; }

  void release(int tensor) {
    int b = plan_.buffer_of[tensor];
    if (b >= 0 && std::find(free_.begin(), free_.end(), b) == free_.end()) free_.push_back(b);
  }

 private:
  const std::vector<MemoryTensor>& tensors_;
  MemoryPlan& plan_;
  std::vector<int> free_;  // in the order they were freed: the first of equals wins
};

}  // namespace

// storage[t]: the tensor whose buffer holds t (t itself, unless t is a view).
static std::vector<int> storage_of(const std::vector<MemoryTensor>& tensors) {
  std::vector<int> storage;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const MemoryTensor& view = tensors[t];
    storage.push_back(static_cast<int>(t));
    if (view.view_of < 0) continue;
    if (static_cast<size_t>(view.view_of) >= tensors.size() || view.view_of == storage.back() ||
        tensors[view.view_of].view_of >= 0)
      throw Error("tensor '" + view.name + "': a view must be of another tensor that is no view");
    const MemoryTensor& whole = tensors[view.view_of];
    if (view.offset + view.bytes > whole.bytes)
      throw Error("tensor '" + view.name + "': view of bytes [" + std::to_string(view.offset) +
                  ", " + std::to_string(view.offset + view.bytes) + ") lies outside '" +
                  whole.name + "' of " + std::to_string(whole.bytes) + " bytes");
    storage.back() = view.view_of;
  }
  return storage;
}

MemoryPlan plan_memory(const std::vector<MemoryTensor>& tensors,
                       const std::vector<MemoryStep>& steps, const std::vector<int>& graph_inputs,
                       const std::vector<int>& graph_outputs) {
  const std::vector<int> storage = storage_of(tensors);
  std::vector<bool> has_views(tensors.size(), false);
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (storage[t] != static_cast<int>(t)) has_views[storage[t]] = true;
  }
  // last_use[t]: the last step reading t or one of its views; a graph output
  // is read after the last step; -1: never read.
  const int n_steps = static_cast<int>(steps.size());
  std::vector<int> last_use(tensors.size(), -1);
  for (int s = 0; s < n_steps; ++s) {
    for (int t : steps[s].inputs) last_use[storage[t]] = s;
  }
  for (int t : graph_outputs) last_use[storage[t]] = n_steps;
  for (int t : graph_inputs) {
    if (storage[t] != t || has_views[t])
      throw Error("graph input '" + tensors[t].name + "' cannot be a view or have views");
    last_use[t] = std::max(last_use[t], 0);
  }

  MemoryPlan plan;
  plan.offset_of.assign(tensors.size(), 0);
  BufferPool pool(tensors, plan);
  for (int t : graph_inputs) {
    if (plan.buffer_of[t] < 0) pool.acquire(t);
  }
  for (int s = 0; s < n_steps; ++s) {
    const MemoryStep& step = steps[s];
    const int out = storage[step.output];
    int inplace = -1;  // the tensor whose buffer the output takes over
    if (step.inplace_input >= 0) {
      inplace = step.inputs.at(step.inplace_input);
      if (storage[inplace] != inplace || has_views[inplace] || out != step.output ||
          has_views[out])
        throw Error("node '" + step.name + "': cannot work in place on a view or a tensor with views");
      if (last_use[inplace] != s)
        throw Error("node '" + step.name + "': in-place input '" + tensors[inplace].name +
                    "' is still read later");
      // conv2d_add(x, x): the step would overwrite what it is still reading.
      const int n_inputs = static_cast<int>(step.inputs.size());
      for (int i = 0; i < n_inputs; ++i) {
        if (i != step.inplace_input && step.inputs[i] == inplace)
          throw Error("node '" + step.name + "': in-place input '" + tensors[inplace].name +
                      "' is also its input " + std::to_string(i));
      }
      pool.hand_over(inplace, step.output);
    } else if (plan.buffer_of[out] < 0) {
      pool.acquire(out);  // before the inputs die: the output never overwrites them
    }
    plan.buffer_of[step.output] = plan.buffer_of[out];
    plan.offset_of[step.output] = out != step.output ? tensors[step.output].offset : 0;
    for (int t : step.inputs) {
      if (t != inplace && last_use[storage[t]] == s) pool.release(storage[t]);
    }
    if (inplace < 0 && last_use[out] < 0) pool.release(out);  // nobody reads it
  }
  return plan;
}

}  // namespace kiln::engine
