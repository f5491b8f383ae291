// The op registry: op name -> schema (validate, shape inference) and compile.
//
// Each op lives in its own file in ops/ and adds itself through a
// register_<op>() function; registry.cpp calls them in one plain list.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"
#include "ops/kernel.h"

namespace kiln::ops {

// Builds the node's kernel. The node's input shapes are concrete (the batch
// is bound); `ctx.input_descs` gives the layouts of its activation inputs.
using CompileFn = std::function<std::unique_ptr<Kernel>(const ir::Node&, const CompileContext&)>;

struct OpDef {
  std::string name;
  ir::OpSchema schema;
  CompileFn compile;
};

class Registry {
 public:
  void add(OpDef def);
  const OpDef* find(const std::string& name) const;  // nullptr if unknown
  const ir::OpTable& schemas() const { return schemas_; }
  std::vector<std::string> names() const;

 private:
  std::map<std::string, OpDef> defs_;
  ir::OpTable schemas_;
};

// The registry with every op Kiln has.
const Registry& registry();

// The process-wide oneDNN CPU engine.
const dnnl::engine& cpu_engine();

}  // namespace kiln::ops
