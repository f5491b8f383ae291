#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>

#include "ir/error.h"

namespace kiln::engine {

// The bytes of all buffers, for a plan and for a packing alike.
static size_t sum_of(const std::vector<size_t>& buffer_bytes) {
  return std::accumulate(buffer_bytes.begin(), buffer_bytes.end(), size_t{0});
}

size_t MemoryPlan::total_bytes() const { return sum_of(buffer_bytes); }

namespace {

// What the packing sees: units of storage, each held over steps
// [first, last] (inclusive; a graph input from -1), of `bytes`.
struct Units {
  std::vector<int> first, last;
  std::vector<size_t> bytes;
  int size() const { return static_cast<int>(bytes.size()); }
  bool overlap(int a, int b) const { return first[a] <= last[b] && first[b] <= last[a]; }
};

// A packing: per unit its buffer, per buffer its size.
struct Packing {
  std::vector<int> buffer_of_unit;
  std::vector<size_t> buffer_bytes;
  size_t total() const { return sum_of(buffer_bytes); }
};

// Walking the steps: a unit takes, when its first step comes, the smallest
// free buffer that holds it, else the largest free one (grown), else a new
// one; its buffer is free again after its last step. Ties go to the buffer
// freed first.
Packing pack_by_steps(const Units& units, int n_steps) {
  Packing p;
  p.buffer_of_unit.assign(units.size(), -1);
  std::vector<int> free;  // in the order they were freed
  for (int s = -1; s <= n_steps; ++s) {
    for (int u = 0; u < units.size(); ++u) {
      if (units.first[u] != s) continue;
      const size_t bytes = units.bytes[u];
      int best = -1;
      for (int b : free) {
        if (best < 0) { best = b; continue; }
        bool fits = p.buffer_bytes[b] >= bytes, best_fits = p.buffer_bytes[best] >= bytes;
        if (fits && (!best_fits || p.buffer_bytes[b] < p.buffer_bytes[best])) best = b;
        if (!fits && !best_fits && p.buffer_bytes[b] > p.buffer_bytes[best]) best = b;
      }
      if (best < 0) {
        p.buffer_bytes.push_back(0);
        best = static_cast<int>(p.buffer_bytes.size()) - 1;
      } else {
        free.erase(std::find(free.begin(), free.end(), best));
      }
      p.buffer_bytes[best] = std::max(p.buffer_bytes[best], bytes);
      p.buffer_of_unit[u] = best;
    }
    for (int u = 0; u < units.size(); ++u) {
      if (units.last[u] == s) free.push_back(p.buffer_of_unit[u]);
    }
  }
  return p;
}

// Largest first: a unit goes into the smallest buffer none of whose units
// is held at the same time, else into a new buffer of its size.
Packing pack_by_size(const Units& units) {
  Packing p;
  p.buffer_of_unit.assign(units.size(), -1);
  std::vector<int> order(units.size());
  for (int u = 0; u < units.size(); ++u) order[u] = u;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return units.bytes[a] > units.bytes[b]; });
  std::vector<std::vector<int>> units_in;  // per buffer
  for (int u : order) {
    int best = -1;
    for (int b = 0; b < static_cast<int>(units_in.size()); ++b) {
      bool free = true;
      for (int other : units_in[b]) free = free && !units.overlap(u, other);
      if (free && (best < 0 || p.buffer_bytes[b] < p.buffer_bytes[best])) best = b;
    }
    if (best < 0) {  // the buffers so far are all at least as large
      best = static_cast<int>(units_in.size());
      units_in.emplace_back();
      p.buffer_bytes.push_back(units.bytes[u]);
    }
    units_in[best].push_back(u);
    p.buffer_of_unit[u] = best;
  }
  return p;
}

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

  // Buffer units: a tensor that is no view, with its views and with the
  // outputs of in-place steps that take its buffer over. A unit holds its
  // buffer from the first step writing any of its tensors (a graph input:
  // from the start, -1) to the last step reading any (last_use).
  std::vector<int> unit_of(tensors.size(), -1);
  Units units;
  auto new_unit = [&](int t, int first) {
    unit_of[t] = units.size();
    units.first.push_back(first);
    units.last.push_back(std::max(first, last_use[t]));
    units.bytes.push_back(tensors[t].bytes);
  };
  for (int t : graph_inputs) {
    if (unit_of[t] < 0) new_unit(t, -1);
  }
  for (int s = 0; s < n_steps; ++s) {
    const MemoryStep& step = steps[s];
    const int out = storage[step.output];
    if (step.inplace_input >= 0) {
      const int inplace = step.inputs.at(step.inplace_input);
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
      if (unit_of[inplace] < 0) {  // never written: nothing to take over
        new_unit(out, s);
      } else {
        const int unit = unit_of[inplace];
        unit_of[out] = unit;
        units.bytes[unit] = std::max(units.bytes[unit], tensors[out].bytes);
      }
    } else if (unit_of[out] < 0) {
      new_unit(out, s);
    }
    const int unit = unit_of[out];
    units.last[unit] = std::max({units.last[unit], s, last_use[out]});
  }
  for (size_t t = 0; t < tensors.size(); ++t) {  // a view: its storage's unit
    if (unit_of[storage[t]] >= 0) unit_of[t] = unit_of[storage[t]];
  }

  // Both packings, the smaller kept. Walking the steps alone left
  // long-lived small tensors (DenseNet's layer outputs) in large buffers,
  // and every larger tensor after them needed a new one: 338 MB for
  // densenet121 at batch 10, whose live tensors never exceed 72 MB (89 MB by
  // size). By size alone, ResNet-18 (44 -> 46 MB) and RegNetY (64 -> 70 MB)
  // took more.
  Packing by_steps = pack_by_steps(units, n_steps);
  Packing by_size = pack_by_size(units);
  const Packing& packing = by_size.total() < by_steps.total() ? by_size : by_steps;

  MemoryPlan plan;
  plan.buffer_bytes = packing.buffer_bytes;
  plan.buffer_of.assign(tensors.size(), -1);
  plan.offset_of.assign(tensors.size(), 0);
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (unit_of[t] < 0) continue;
    plan.buffer_of[t] = packing.buffer_of_unit[unit_of[t]];
    plan.offset_of[t] = storage[t] != static_cast<int>(t) ? tensors[t].offset : 0;
  }
  return plan;
}

}  // namespace kiln::engine
