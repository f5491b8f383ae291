// The names of an enum's choices (conv algorithms, conv layouts, conv
// kernels), looked up and listed one way for every such enum.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace kiln::ops {

// The choice in `all` whose name(choice) is `name`.
template <class E, size_t N>
std::optional<E> choice_from_name(const E (&all)[N], const char* (*name)(E),
                                  const std::string& text) {
  for (E choice : all) {
    if (text == name(choice)) return choice;
  }
  return std::nullopt;
}

// "a, b or c", for error messages.
template <class E, size_t N>
std::string choice_names(const E (&all)[N], const char* (*name)(E)) {
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    names += i == 0 ? "" : i + 1 == N ? " or " : ", ";
    names += name(all[i]);
  }
  return names;
}

}  // namespace kiln::ops
