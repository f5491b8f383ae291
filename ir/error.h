// kiln::Error — the one exception type Kiln throws.
//
// A message is one line that says where (file, node, field), what is wrong,
// and, where it helps, what was expected and what was found:
//   model/graph.json: node 'layer1.0.conv1' (conv2d): attribute 'stride': expected 2 positive integers, got [0, 1]
#pragma once

#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  Error(const std::string& where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), where_(where) {}

  // The location part alone ("model/graph.json: node 'conv1'"), empty if none was given.
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

}  // namespace kiln
