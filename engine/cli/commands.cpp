// engine-run's modes, on the public API (kiln/kiln.h) alone: what the CLI
// does, an app can do.
#include "engine/cli/commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/cli/report.h"

namespace kiln::cli {

using nlohmann::json;

// The inputs to run on: from --input files, else seeded random ones; and the batch.
struct Inputs {
  std::vector<Tensor> tensors;
  int64_t batch = 1;
  std::string source;  // for the report
};

static Inputs make_inputs(const Model& model, const Options& o) {
  Inputs in;
  const std::vector<std::string> names = model.input_names();
  const std::vector<std::vector<int64_t>> shapes = model.input_shapes();
  if (!o.inputs.empty()) {
    if (o.inputs.size() != shapes.size())
      throw UsageError("the model takes " + std::to_string(shapes.size()) + " input(s), got " +
                       std::to_string(o.inputs.size()) + " --input");
    for (size_t i = 0; i < o.inputs.size(); ++i) {
      Tensor t = read_npy(o.inputs[i]);
      const std::vector<int64_t>& want = shapes[i];
      bool fits = t.shape.size() == want.size() && !t.shape.empty();
      for (size_t d = 1; fits && d < want.size(); ++d) fits = t.shape[d] == want[d];
      if (fits && want[0] != kFreeBatch) fits = t.shape[0] == want[0];
      if (!fits)
        throw Error(o.inputs[i], "shape " + shape_str(t.shape) + " does not fit model input '" +
                                     names[i] + "' " + shape_str(want));
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
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::vector<int64_t>& shape = shapes[i];
    if (!shape.empty() && shape[0] != kFreeBatch && o.batch && shape[0] != o.batch)
      throw UsageError("--batch " + std::to_string(o.batch) + ": model input '" + names[i] +
                       "' has a fixed batch of " + std::to_string(shape[0]));
    if (!shape.empty() && shape[0] != kFreeBatch) in.batch = shape[0];
  }
  std::vector<std::vector<int64_t>> bound = shapes;
  for (std::vector<int64_t>& shape : bound) {
    if (!shape.empty() && shape[0] == kFreeBatch) shape[0] = in.batch;
  }
  in.tensors = random_inputs(bound, o.seed + 1);
  in.source = "seeded random (seed " + std::to_string(o.seed) + ")";
  return in;
}

static void write_outputs(const Options& o, const std::vector<Tensor>& outputs) {
  if (o.outputs.size() > outputs.size())
    throw UsageError(std::to_string(o.outputs.size()) + " --output given, but the model has " +
                     std::to_string(outputs.size()) + " output(s)");
  for (size_t i = 0; i < o.outputs.size(); ++i) write_npy(o.outputs[i], outputs[i]);
}

// Returns {max |a - b|, max |b|} over all outputs.
static std::pair<double, double> max_abs_diff(const std::vector<Tensor>& a,
                                              const std::vector<Tensor>& b) {
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

static std::string join_shape(const std::vector<std::vector<int64_t>>& shapes) {
  std::string s;
  for (const auto& shape : shapes) s += (s.empty() ? "" : ", ") + shape_str(shape);
  return s;
}

// Milliseconds since `start`, for the set-up line of run_model.
static double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

int run_model(const Options& o) {
  set_threads(o.threads);
  auto start = std::chrono::steady_clock::now();
  Model model = Model::load(o.model, o.seed);
  const double load_ms = ms_since(start);
  Inputs in = make_inputs(model, o);
  size_t nodes_before = model.node_count(), bn_before = model.op_count("batchnorm");
  if (o.dump_graph) std::printf("graph %s:\n%s", o.model.c_str(), model.graph_text().c_str());

  start = std::chrono::steady_clock::now();
  std::vector<PassReport> reports = model.fuse(o.fuse);
  const double passes_ms = ms_since(start);
  const char* fuse_name = fuse_names(o.fuse).name;
  if (o.dump_graph && o.fuse != Fuse::none)
    std::printf("graph after passes (--fuse=%s):\n%s", fuse_name, model.graph_text().c_str());
  if (!o.save_dir.empty()) model.save(o.save_dir, o.force);
  const size_t nodes_after = model.node_count(), bn_after = model.op_count("batchnorm");

  // The model is needed no more: compiling it frees each weight once packed.
  start = std::chrono::steady_clock::now();
  Runner runner = std::move(model).compile(in.batch, o.compile);
  const double compile_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  std::vector<Tensor> outputs = runner.run(in.tensors);  // the result; runs below are for timing
  const double first_run_ms = ms_since(start);
  Timing t = runner.time(in.tensors, o.warmup, o.iters);
  write_outputs(o, outputs);

  std::printf("model      %s: %zu nodes, %zu batchnorm\n", o.model.c_str(), nodes_before, bn_before);
  print_reports(reports, o.verbose);
  std::printf("input      %s %s\n", join_shape(runner.input_shapes()).c_str(), in.source.c_str());
  std::printf("output     %s\n", join_shape(runner.output_shapes()).c_str());
  std::printf("set-up     load %.1f ms, passes %.1f ms, compile %.1f ms, first run %.1f ms\n",
              load_ms, passes_ms, compile_ms, first_run_ms);
  std::printf("time       median %.3f ms, min %.3f ms over %d run(s); batch %lld, %d threads, "
              "%s convolutions\n", t.median_ms, t.min_ms, t.runs, static_cast<long long>(in.batch),
              threads(), conv_algo_name(o.compile.conv_algo));
  if (o.verbose) {
    std::printf("layout     convs %s (--conv-layout %s)\n",
                runner.blocked_convs() ? "ask for oneDNN's blocked layout (nChw16c / nChw8c)"
                                       : "take the layout oneDNN picks",
                conv_layout_name(o.compile.conv_layout));
    print_conv_reasons(runner.steps());
  }
  if (!o.save_dir.empty()) std::printf("saved      %s\n", o.save_dir.c_str());
  if (o.profile) {
    std::printf("\nprofile over %d run(s), each step timed on its own:\n%s", o.iters,
                profile_table(runner.profile(in.tensors, o.iters)).c_str());
  }
  if (!o.trace_file.empty()) {
    runner.write_trace(in.tensors, o.trace_file);
    std::printf("trace      %s\n", o.trace_file.c_str());
  }
  if (o.json) {
    json j = {{"model", o.model},
              {"fuse", fuse_name},
              {"conv_algo", conv_algo_name(o.compile.conv_algo)},
              {"conv_layout", conv_layout_name(o.compile.conv_layout)},
              {"blocked_convs", runner.blocked_convs()},
              {"batch", in.batch},
              {"threads", threads()},
              {"nodes_before", nodes_before},
              {"nodes_after", nodes_after},
              {"batchnorm_before", bn_before},
              {"batchnorm_after", bn_after},
              {"median_ms", t.median_ms},
              {"min_ms", t.min_ms},
              {"runs", t.runs},
              {"load_ms", load_ms},
              {"passes_ms", passes_ms},
              {"compile_ms", compile_ms},
              {"first_run_ms", first_run_ms},
              {"passes", reports_json(reports)}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

// One fuse level in --compare: its names, its model and what its passes did.
struct Level {
  FuseNames names;
  Model model;
  std::vector<PassReport> reports;
};

// --compare's JSON: each level's times under its key stem (unfused_ms,
// fused_ms, fused_all_ms); the unfused graph's counts end in _before; each
// fused level's results end as its stem does after "fused" (speedup,
// speedup_all).
static json compare_json(const Options& o, int64_t batch, const std::vector<Level>& levels,
                         const std::vector<Timing>& t, const std::vector<double>& speedup,
                         const std::vector<double>& diff, double max_abs_output) {
  json j = {{"model", o.model},
            {"batch", batch},
            {"threads", threads()},
            {"conv_algo", conv_algo_name(o.compile.conv_algo)},
            {"conv_layout", conv_layout_name(o.compile.conv_layout)},
            {"iters", o.iters},
            {"max_abs_output", max_abs_output}};
  for (size_t i = 0; i < levels.size(); ++i) {
    const std::string key = levels[i].names.key;
    j[key + "_ms"] = t[i].median_ms;
    j[key + "_min_ms"] = t[i].min_ms;
    if (levels[i].names.level == Fuse::none) {
      j["nodes_before"] = levels[i].model.node_count();
      j["batchnorm_before"] = levels[i].model.op_count("batchnorm");
      continue;
    }
    const std::string tail = key.substr(std::string("fused").size());  // "", "_all"
    j["speedup" + tail] = speedup[i];
    j["max_abs_diff" + tail] = diff[i];
    j["nodes_after" + tail] = levels[i].model.node_count();
    j["batchnorm_after" + tail] = levels[i].model.op_count("batchnorm");
    j["passes" + tail] = reports_json(levels[i].reports);
  }
  return j;
}

int compare_model(const Options& o) {
  set_threads(o.threads);
  Model unfused = Model::load(o.model, o.seed);
  Inputs in = make_inputs(unfused, o);
  // Every level, whatever --fuse says: each fusion's effect shows on its own.
  std::vector<Level> levels;
  size_t saved = 0;  // the level --save and --output take: --fuse's
  for (const FuseNames& names : fuse_levels()) {
    if (names.level == o.fuse) saved = levels.size();
    levels.push_back({names, unfused, {}});
  }
  for (Level& level : levels) level.reports = level.model.fuse(level.names.level);
  if (o.dump_graph) {
    for (const Level& level : levels)
      std::printf("graph %s, %s:\n%s", o.model.c_str(), level.names.label,
                  level.model.graph_text().c_str());
  }
  if (!o.save_dir.empty()) levels[saved].model.save(o.save_dir, o.force);

  std::vector<Runner> runners;
  for (const Level& level : levels) runners.push_back(level.model.compile(in.batch, o.compile));
  std::vector<Runner*> timed;
  for (Runner& r : runners) timed.push_back(&r);
  std::vector<std::vector<Tensor>> y;
  for (Runner& r : runners) y.push_back(r.run(in.tensors));
  std::vector<Timing> t = time_interleaved(timed, in.tensors, o.warmup, o.iters);
  write_outputs(o, y[saved]);

  std::printf("model      %s, batch %lld, %d threads, %s convolutions, %d timed runs each "
              "(interleaved)\n", o.model.c_str(), static_cast<long long>(in.batch), threads(),
              conv_algo_name(o.compile.conv_algo), o.iters);
  print_reports(levels.back().reports, o.verbose);  // the last level runs every pass
  std::printf("\n%-12s %10s %10s %8s %7s %10s %s\n", "", "median ms", "min ms", "speed-up", "nodes",
              "batchnorm", "max |diff| / max |unfused|");
  std::vector<double> speedup(levels.size()), diff(levels.size()), scale(levels.size());
  for (size_t i = 0; i < levels.size(); ++i) {
    std::tie(diff[i], scale[i]) = max_abs_diff(y[i], y[0]);
    speedup[i] = t[i].median_ms > 0 ? t[0].median_ms / t[i].median_ms : 0;
    std::printf("%-12s %10.3f %10.3f %7.3fx %7zu %10zu %.3g\n", levels[i].names.label,
                t[i].median_ms, t[i].min_ms, speedup[i], levels[i].model.node_count(),
                levels[i].model.op_count("batchnorm"), scale[i] > 0 ? diff[i] / scale[i] : diff[i]);
  }
  std::printf("\nspeed-up is the unfused median over the level's median; max |unfused output| %.3g\n",
              scale[0]);
  if (o.json)
    std::cout << compare_json(o, in.batch, levels, t, speedup, diff, scale[0]).dump() << std::endl;
  return 0;
}

int verify_model(const Options& o) {
  set_threads(o.threads);
  Model unfused = Model::load(o.model, o.seed);
  Inputs in = make_inputs(unfused, o);
  Model fused = unfused;
  std::vector<PassReport> reports = fused.fuse(o.fuse);
  print_reports(reports, o.verbose);
  FusionCheck check = check_fusion(unfused, fused, in.tensors, o.compile, 1e-4);

  double worst = 0;
  std::printf("verify     %zu fused nodes compared with their unfused counterparts, batch %lld\n",
              check.nodes.size(), static_cast<long long>(in.batch));
  if (o.verbose) std::printf("%-32s %-32s %12s %12s\n", "fused node", "unfused value", "max |diff|", "max |ref|");
  for (const NodeCheck& n : check.nodes) {
    worst = std::max(worst, n.max_abs_reference > 0 ? n.max_abs_diff / n.max_abs_reference : n.max_abs_diff);
    if (o.verbose)
      std::printf("%-32.32s %-32.32s %12.3g %12.3g%s\n", n.node.c_str(), n.reference.c_str(),
                  n.max_abs_diff, n.max_abs_reference, n.ok() ? "" : "  DIVERGES");
  }
  std::printf("worst      relative error %.3g (tolerance 1e-4 x max |reference| per node)\n", worst);
  if (o.json) {
    json j = {{"model", o.model}, {"batch", in.batch}, {"fuse", fuse_names(o.fuse).name},
              {"nodes_compared", check.nodes.size()}, {"max_rel_error", worst},
              {"ok", check.first_failure() == nullptr}, {"passes", reports_json(reports)}};
    std::cout << j.dump() << std::endl;
  }
  if (const NodeCheck* bad = check.first_failure()) {
    char detail[256];
    std::snprintf(detail, sizeof detail, "max |diff| %.3g exceeds the tolerance %.3g (max |reference| %.3g)",
                  bad->max_abs_diff, bad->tolerance, bad->max_abs_reference);
    throw Error("verify", "fused node '" + bad->node + "' diverges from unfused '" + bad->reference +
                              "': " + detail);
  }
  return 0;
}

}  // namespace kiln::cli
