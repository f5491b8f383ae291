// Typed attribute access with errors that name the node and the attribute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

// Each returns `fallback` when the attribute is absent and throws
// kiln::Error ("node 'x' (conv2d): attribute 'groups': expected an integer,
// got [1, 2]") when it has the wrong type.
int64_t attr_int(const Node& node, const std::string& key, int64_t fallback);
double attr_real(const Node& node, const std::string& key, double fallback);  // integers accepted
std::vector<int64_t> attr_ints(const Node& node, const std::string& key,
                               const std::vector<int64_t>& fallback);
std::string attr_string(const Node& node, const std::string& key, const std::string& fallback);

// A list attribute of exactly `count` integers, each >= `min`; the usual check
// for stride, padding, dilation and kernel sizes.
std::vector<int64_t> attr_ints_checked(const Node& node, const std::string& key, size_t count,
                                       int64_t min, const std::vector<int64_t>& fallback);

// Throws if the node has an attribute not in `known` (catches typos such as 'strides').
void check_known_attrs(const Node& node, const std::vector<std::string>& known);

}  // namespace kiln::ir
