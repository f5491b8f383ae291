// In-place concat: each input of a concat is written by its producer straight
// into its slice of the concat's output, and the concat itself does nothing.
//
// Matches a concat step whose slices are tensors of their own at a byte
// offset: all in nChw16c / nChw8c at batch 1 along channels, in whole
// blocks; or an output with no inner blocks (C order, nhwc) whose strides
// over each slice are the input's own desc, or that the input's producer
// can write (Kernel::writing_to, when the concat is its only reader). Refuses (the concat copies, as before) when an input is a
// graph input or output, is not produced by a step of the plan, is produced
// or overwritten in place, is already a slice elsewhere, or would start at
// a byte offset not a multiple of 64; likewise when the output is
// overwritten in place. Guarantees: each placed input is a view of the
// outermost concat's tensor (PlanTensor::view_of), which the buffer planner
// keeps alive from the first producer's write to the last reader of any of
// its views; concats nested in a later one (DenseNet's growing blocks) are
// views too.
#pragma once

#include <vector>

#include "engine/plan_impl.h"

namespace kiln::engine {

// A concat step of a plan and its axis (0 based, normalised).
struct ConcatSite {
  int step = -1;
  int axis = 0;
  bool has_params = false;  // a parameter input: its slice would need filling, so it copies
};

// Places the concats that can be placed in place, the last first (so an inner
// concat finds its inputs' slices inside the outer one's), replacing each
// placed concat's kernel by one that does nothing. Returns how many it placed.
int place_concats_in_place(PlanImpl& plan, const std::vector<ConcatSite>& sites);

}  // namespace kiln::engine
