#include "engine/cli/commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/profile.h"
#include "engine/timing.h"
#include "engine/verify_fusion.h"
#include "ir/error.h"
#include "loaders/model_dir.h"
#include "loaders/npy.h"
#include "loaders/random.h"

namespace kiln::cli {

using nlohmann::json;

static const char* level_name(engine::FuseLevel level) {
  switch (level) {
    case engine::FuseLevel::none: return "none";
    case engine::FuseLevel::batchnorm: return "bn";
    case engine::FuseLevel::all: return "all";
  }
  return "?";
}

// The inputs to run on: from --input files, else seeded random ones; and the batch.
struct Inputs {
  std::vector<ir::Tensor> tensors;
  int64_t batch = 1;
  std::string source;  // for the report
};

static Inputs make_inputs(const ir::Graph& graph, const Options& o) {
  Inputs in;
  const auto& graph_inputs = graph.inputs();
  if (!o.inputs.empty()) {
    if (o.inputs.size() != graph_inputs.size())
      throw UsageError("the model takes " + std::to_string(graph_inputs.size()) +
                       " input(s), got " + std::to_string(o.inputs.size()) + " --input");
    for (size_t i = 0; i < o.inputs.size(); ++i) {
      ir::Tensor t = loaders::read_npy(o.inputs[i]);
      const ir::Shape& want = graph_inputs[i]->shape;
      bool fits = t.shape.size() == want.size() && !t.shape.empty();
      for (size_t d = 1; fits && d < want.size(); ++d) fits = t.shape[d] == want[d];
      if (fits && want[0] != ir::kBatch) fits = t.shape[0] == want[0];
      if (!fits)
        throw Error(o.inputs[i], "shape " + ir::shape_str(t.shape) + " does not fit model input '" +
                                     graph_inputs[i]->name + "' " + ir::shape_str(want));
      if (t.shape[0] == 0) throw Error(o.inputs[i], "batch dimension is 0");
      in.tensors.push_back(std::move(t));
    }
    in.batch = in.tensors[0].shape[0];
    for (size_t i = 1; i < in.tensors.size(); ++i) {
      if (in.tensors[i].shape[0] != in.batch)
        throw Error(o.inputs[i], "batch " + std::to_string(in.tensors[i].shape[0]) +
                                     " differs from the first input's " + std::to_string(in.batch));
    }
    if (o.batch && o.batch != in.batch)
      throw UsageError("--batch " + std::to_string(o.batch) + " disagrees with the input's batch " +
                       std::to_string(in.batch));
    in.source = o.inputs[0];
    return in;
  }
  in.batch = o.batch ? o.batch : 1;
  for (const ir::Value* v : graph_inputs) {
    if (!v->shape.empty() && v->shape[0] != ir::kBatch && o.batch && v->shape[0] != o.batch)
      throw UsageError("--batch " + std::to_string(o.batch) + ": model input '" + v->name +
                       "' has a fixed batch of " + std::to_string(v->shape[0]));
    if (!v->shape.empty() && v->shape[0] != ir::kBatch) in.batch = v->shape[0];
  }
  loaders::Random rng(o.seed + 1);
  for (const ir::Value* v : graph_inputs) {
    ir::Shape shape = v->shape;
    if (!shape.empty() && shape[0] == ir::kBatch) shape[0] = in.batch;
    in.tensors.push_back(loaders::random_tensor(shape, rng, -1.0, 1.0));
  }
  in.source = "seeded random (seed " + std::to_string(o.seed) + ")";
  return in;
}

static void print_reports(const std::vector<passes::PassReport>& reports, bool verbose) {
  for (const auto& r : reports) {
    std::printf("pass       %s: %zu changed, %zu skipped\n", r.pass.c_str(), r.changed.size(),
                r.skipped.size());
    if (!verbose) continue;
    for (const auto& c : r.changed) std::printf("  changed  %s\n", c.c_str());
    for (const auto& s : r.skipped) std::printf("  skipped  %s: %s\n", s.node.c_str(), s.reason.c_str());
  }
}

static void write_outputs(const Options& o, const std::vector<ir::Tensor>& outputs) {
  if (o.outputs.size() > outputs.size())
    throw UsageError(std::to_string(o.outputs.size()) + " --output given, but the model has " +
                     std::to_string(outputs.size()) + " output(s)");
  for (size_t i = 0; i < o.outputs.size(); ++i) loaders::write_npy(o.outputs[i], outputs[i]);
}

// Returns {max |a - b|, max |b|} over all outputs.
static std::pair<double, double> max_abs_diff(const std::vector<ir::Tensor>& a,
                                              const std::vector<ir::Tensor>& b) {
  double diff = 0, scale = 0;
  for (size_t o = 0; o < a.size(); ++o) {
    for (size_t i = 0; i < a[o].data.size(); ++i) {
      double d = std::fabs(double(a[o].data[i]) - double(b[o].data[i]));
      diff = std::isnan(d) ? INFINITY : std::max(diff, d);
      scale = std::max(scale, std::fabs(double(b[o].data[i])));
    }
  }
  return {diff, scale};
}

static std::string join_shape(const std::vector<ir::Shape>& shapes) {
  std::string s;
  for (const auto& shape : shapes) s += (s.empty() ? "" : ", ") + ir::shape_str(shape);
  return s;
}

// Milliseconds since `start`, for the set-up line of run_model.
static double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int run_model(const Options& o) {
  engine::set_threads(o.threads);
  auto start = std::chrono::steady_clock::now();
  ir::Graph graph = engine::load_model(o.model, o.seed);
  const double load_ms = ms_since(start);
  Inputs in = make_inputs(graph, o);
  size_t nodes_before = graph.nodes().size(), bn_before = graph.count_op("batchnorm");
  if (o.dump_graph) std::printf("graph %s:\n%s", o.model.c_str(), ir::print(graph).c_str());

  start = std::chrono::steady_clock::now();
  std::vector<passes::PassReport> reports = engine::fuse(graph, o.fuse);
  const double passes_ms = ms_since(start);
  if (o.dump_graph && o.fuse != engine::FuseLevel::none)
    std::printf("graph after passes (--fuse=%s):\n%s", level_name(o.fuse), ir::print(graph).c_str());
  if (!o.save_dir.empty()) loaders::save_model_dir(graph, o.save_dir, o.force);

  start = std::chrono::steady_clock::now();
  engine::Plan plan = engine::compile(graph, in.batch, o.compile);
  engine::Context ctx(plan);
  const double compile_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  std::vector<ir::Tensor> outputs = ctx.run(in.tensors);  // the result; runs below are for timing
  const double first_run_ms = ms_since(start);
  engine::TimingStats t = engine::time_runs(ctx, in.tensors, o.warmup, o.iters);
  write_outputs(o, outputs);

  std::printf("model      %s: %zu nodes, %zu batchnorm\n", o.model.c_str(), nodes_before, bn_before);
  print_reports(reports, o.verbose);
  std::printf("input      %s %s\n", join_shape(plan.input_shapes()).c_str(), in.source.c_str());
  std::printf("output     %s\n", join_shape(plan.output_shapes()).c_str());
  std::printf("set-up     load %.1f ms, passes %.1f ms, compile %.1f ms, first run %.1f ms\n",
              load_ms, passes_ms, compile_ms, first_run_ms);
  std::printf("time       median %.3f ms, min %.3f ms over %d run(s); batch %lld, %d threads, "
              "%s convolutions\n", t.median_ms, t.min_ms, t.runs, static_cast<long long>(in.batch),
              engine::max_threads(), ops::conv_algo_name(o.compile.conv_algo));
  if (!o.save_dir.empty()) std::printf("saved      %s\n", o.save_dir.c_str());
  if (o.profile) {
    std::printf("\nprofile over %d run(s), each step timed on its own:\n%s", o.iters,
                engine::profile_table(engine::profile(plan, ctx, in.tensors, 1, o.iters)).c_str());
  }
  if (!o.trace_file.empty()) {
    engine::write_chrome_trace(plan, ctx, in.tensors, o.trace_file);
    std::printf("trace      %s\n", o.trace_file.c_str());
  }
  if (o.json) {
    json j = {{"model", o.model},
              {"fuse", level_name(o.fuse)},
              {"conv_algo", ops::conv_algo_name(o.compile.conv_algo)},
              {"batch", in.batch},
              {"threads", engine::max_threads()},
              {"nodes_before", nodes_before},
              {"nodes_after", graph.nodes().size()},
              {"batchnorm_before", bn_before},
              {"batchnorm_after", graph.count_op("batchnorm")},
              {"median_ms", t.median_ms},
              {"min_ms", t.min_ms},
              {"runs", t.runs},
              {"load_ms", load_ms},
              {"passes_ms", passes_ms},
              {"compile_ms", compile_ms},
              {"first_run_ms", first_run_ms}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

// One fusion level in --compare: its graph, the pass reports, and the plan's results.
struct Level {
  const char* label;
  engine::FuseLevel fuse;
  ir::Graph graph;
  std::vector<passes::PassReport> reports;
};

int compare_model(const Options& o) {
  engine::set_threads(o.threads);
  ir::Graph unfused = engine::load_model(o.model, o.seed);
  Inputs in = make_inputs(unfused, o);
  // Every level, whatever --fuse says: each fusion's effect shows on its own.
  std::vector<Level> levels;
  levels.push_back({"unfused", engine::FuseLevel::none, unfused.clone(), {}});
  levels.push_back({"fused (bn)", engine::FuseLevel::batchnorm, unfused.clone(), {}});
  levels.push_back({"fused (all)", engine::FuseLevel::all, unfused.clone(), {}});
  for (Level& level : levels) level.reports = engine::fuse(level.graph, level.fuse);
  if (o.dump_graph) {
    for (const Level& level : levels)
      std::printf("graph %s, %s:\n%s", o.model.c_str(), level.label, ir::print(level.graph).c_str());
  }
  const Level* saved = o.fuse == engine::FuseLevel::all ? &levels[2] : &levels[1];
  if (!o.save_dir.empty()) loaders::save_model_dir(saved->graph, o.save_dir, o.force);

  std::vector<engine::Plan> plans;
  for (const Level& level : levels)
    plans.push_back(engine::compile(level.graph, in.batch, o.compile));
  std::vector<engine::Context> contexts;
  std::vector<engine::Context*> timed;
  for (const engine::Plan& plan : plans) contexts.emplace_back(plan);
  for (engine::Context& ctx : contexts) timed.push_back(&ctx);
  std::vector<std::vector<ir::Tensor>> y;
  for (engine::Context& ctx : contexts) y.push_back(ctx.run(in.tensors));
  std::vector<engine::TimingStats> t = engine::time_interleaved(timed, in.tensors, o.warmup, o.iters);
  write_outputs(o, saved == &levels[2] ? y[2] : y[1]);

  std::printf("model      %s, batch %lld, %d threads, %s convolutions, %d timed runs each "
              "(interleaved)\n", o.model.c_str(), static_cast<long long>(in.batch),
              engine::max_threads(), ops::conv_algo_name(o.compile.conv_algo), o.iters);
  print_reports(levels[2].reports, o.verbose);
  std::printf("\n%-12s %10s %10s %8s %7s %10s %s\n", "", "median ms", "min ms", "speed-up", "nodes",
              "batchnorm", "max |diff| / max |unfused|");
  std::vector<double> speedup(levels.size()), diff(levels.size()), scale(levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    std::tie(diff[i], scale[i]) = max_abs_diff(y[i], y[0]);
    speedup[i] = t[i].median_ms > 0 ? t[0].median_ms / t[i].median_ms : 0;
    std::printf("%-12s %10.3f %10.3f %7.3fx %7zu %10zu %.3g\n", levels[i].label, t[i].median_ms,
                t[i].min_ms, speedup[i], levels[i].graph.nodes().size(),
                levels[i].graph.count_op("batchnorm"), scale[i] > 0 ? diff[i] / scale[i] : diff[i]);
  }
  std::printf("\nspeed-up is the unfused median over the level's median; max |unfused output| %.3g\n",
              scale[0]);
  if (o.json) {
    json j = {{"model", o.model},
              {"batch", in.batch},
              {"threads", engine::max_threads()},
              {"conv_algo", ops::conv_algo_name(o.compile.conv_algo)},
              {"iters", o.iters},
              {"unfused_ms", t[0].median_ms},
              {"unfused_min_ms", t[0].min_ms},
              {"fused_ms", t[1].median_ms},
              {"fused_min_ms", t[1].min_ms},
              {"fused_all_ms", t[2].median_ms},
              {"fused_all_min_ms", t[2].min_ms},
              {"speedup", speedup[1]},
              {"speedup_all", speedup[2]},
              {"max_abs_diff", diff[1]},
              {"max_abs_diff_all", diff[2]},
              {"max_abs_output", scale[0]},
              {"nodes_before", levels[0].graph.nodes().size()},
              {"nodes_after", levels[1].graph.nodes().size()},
              {"nodes_after_all", levels[2].graph.nodes().size()},
              {"batchnorm_before", levels[0].graph.count_op("batchnorm")},
              {"batchnorm_after", levels[1].graph.count_op("batchnorm")},
              {"batchnorm_after_all", levels[2].graph.count_op("batchnorm")}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

int verify_model(const Options& o) {
  engine::set_threads(o.threads);
  ir::Graph unfused = engine::load_model(o.model, o.seed);
  Inputs in = make_inputs(unfused, o);
  ir::Graph fused = unfused.clone();
  std::vector<passes::PassReport> reports = engine::fuse(fused, o.fuse);
  print_reports(reports, o.verbose);
  engine::FusionCheck check =
      engine::check_fusion(unfused, fused, reports, in.tensors, 1e-4, o.compile);

  double worst = 0;
  std::printf("verify     %zu fused nodes compared with their unfused counterparts, batch %lld\n",
              check.nodes.size(), static_cast<long long>(in.batch));
  if (o.verbose) std::printf("%-32s %-32s %12s %12s\n", "fused node", "unfused value", "max |diff|", "max |ref|");
  for (const engine::NodeCheck& n : check.nodes) {
    worst = std::max(worst, n.max_abs_reference > 0 ? n.max_abs_diff / n.max_abs_reference : n.max_abs_diff);
    if (o.verbose)
      std::printf("%-32.32s %-32.32s %12.3g %12.3g%s\n", n.node.c_str(), n.reference.c_str(),
                  n.max_abs_diff, n.max_abs_reference, n.ok() ? "" : "  DIVERGES");
  }
  std::printf("worst      relative error %.3g (tolerance 1e-4 x max |reference| per node)\n", worst);
  if (o.json) {
    json j = {{"model", o.model}, {"batch", in.batch}, {"fuse", level_name(o.fuse)},
              {"nodes_compared", check.nodes.size()}, {"max_rel_error", worst},
              {"ok", check.first_failure() == nullptr}};
    std::cout << j.dump() << std::endl;
  }
  if (const engine::NodeCheck* bad = check.first_failure()) {
    char detail[256];
    std::snprintf(detail, sizeof detail, "max |diff| %.3g exceeds the tolerance %.3g (max |reference| %.3g)",
                  bad->max_abs_diff, bad->tolerance, bad->max_abs_reference);
    throw Error("verify", "fused node '" + bad->node + "' diverges from unfused '" + bad->reference +
                              "': " + detail);
  }
  return 0;
}

}  // namespace kiln::cli
