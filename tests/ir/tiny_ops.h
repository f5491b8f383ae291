// A two-op table for the IR tests, so that they need nothing from ops/:
//   id(x, w?) -> x's shape; its validate() refuses an attribute "bad".
//   pair(a, b) -> a's shape.
#pragma once

#include "ir/error.h"
#include "ir/op_schema.h"

namespace kiln::test {

inline const ir::OpTable& tiny_ops() {
  static const ir::OpTable table = {
      {"id",
       {1, 2,
        [](const ir::Node& node) {
          if (node.attrs.count("bad")) throw Error(node.where(), "attribute 'bad' is refused");
        },
        [](const ir::Node& node) { return node.inputs[0]->shape; }}},
      {"pair", {2, 2, [](const ir::Node&) {}, [](const ir::Node& node) { return node.inputs[0]->shape; }}},
  };
  return table;
}

}  // namespace kiln::test
