// What every pass returns, and the pipeline that runs passes in order.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::passes {

struct Skip {
  std::string node;    // the node the pass looked at and left alone
  std::string reason;  // why, in words a user understands
};

struct PassReport {
  // The Pass::name that run_passes() ran it under; empty from a pass called alone.
  std::string pass;
  std::vector<std::string> changed;  // one line per rewrite, e.g. "bn1 into conv1"
  std::vector<Skip> skipped;
  // {before, after}: the value the graph computed as `before` is now computed
  // as `after` (e.g. {"bn1", "conv1"} when bn1 folds into conv1). Lets a tool
  // match intermediate values of the graphs before and after the pass.
  std::vector<std::pair<std::string, std::string>> replaced;
};

// A pass rewrites the graph; one that must know about ops (which are
// activations, say) reads their schemas, never ops/ itself.
using PassFn = PassReport (*)(ir::Graph&);
using PassWithOpsFn = PassReport (*)(ir::Graph&, const ir::OpTable&);

struct Pass {
  Pass(std::string name, PassFn fn)
      : name(std::move(name)), run([fn](ir::Graph& g, const ir::OpTable&) { return fn(g); }) {}
  Pass(std::string name, PassWithOpsFn fn) : name(std::move(name)), run(fn) {}

  std::string name;
  std::function<PassReport(ir::Graph&, const ir::OpTable&)> run;
};

// Why a fusion must leave `node` (whose output it would fold into the node
// reading it) alone: its output has another reader, or is a graph output.
// "" when neither: "the output of concat 'cat' has 2 users (bn, other); it
// must stay".
std::string output_must_stay(const ir::Graph& graph, const ir::Node& node);

// Why the concat `concat` cannot be taken into the one node that reads it
// (fuse_concat_batchnorm, fuse_channel_shuffle): its output must stay, it
// joins a parameter or inputs not of rank 4, or not along the channels.
// "" when it can: "concat 'cat' joins parameter 'const'".
std::string channel_concat_refusal(const ir::Graph& graph, const ir::Node& concat);

// Runs each pass in order and ir::verify()s the graph after every one; a
// failed verify throws kiln::Error naming the pass.
std::vector<PassReport> run_passes(ir::Graph& graph, const std::vector<Pass>& passes,
                                   const ir::OpTable& ops);

}  // namespace kiln::passes
