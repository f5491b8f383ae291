// bench/resnet18: ResNet18 end to end, unfused vs BatchNorm-folded vs all
// fusions, in one process on one input, runs interleaved (unfused, bn, all,
// unfused, bn, all, ...) so a change in the machine's speed hits all alike.
//
// For each batch and fusion level it reports the median and minimum time,
// images/s, GFLOP/s (the model's conv2d + linear work, 2 x multiply-adds,
// counted from the graph: 3.63 GFLOP per 224x224 image for ResNet18) and
// that as a percentage of this machine's FMA peak, measured in the same run
// on the same threads (bench/fma_peak.h); then the process's peak RSS.
// With several convolution algorithms (--conv-algo direct,auto) every level
// runs with each, all interleaved in the same way.
// It exits 1 if a fusion level or an algorithm changes the output beyond float
// rounding.
//
//   resnet18 [--model NAME|DIR] [--batch 1,10] [--conv-algo A[,A...]] [--iters 30]
//            [--warmup 5] [--threads N] [--seed S] [--input X.npy] [--outputs DIR] [--json]
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "bench/fma_peak.h"
#include "engine/engine.h"
#include "engine/timing.h"
#include "ir/error.h"
#include "ops/common.h"
#include "ops/conv_algo.h"
#include "loaders/npy.h"
#include "loaders/random.h"

using namespace kiln;

namespace {

struct Options {
  std::string model = "resnet18";
  std::vector<int64_t> batches = {1, 10};
  std::vector<ops::ConvAlgo> conv_algos = {ops::ConvAlgo::direct};
  int iters = 30;
  int warmup = 5;
  int threads = 0;  // 0: all cores
  uint64_t seed = 0;
  std::string input;   // X.npy; its dim 0 is the batch
  std::string outputs;  // DIR for unfused.npy, bn.npy, all.npy (+ -ALGO past the first)
  bool json = false;
};

const char* kUsage =
    "usage: resnet18 [options]\n"
    "  --model NAME|DIR   built-in model or model directory (default resnet18)\n"
    "  --batch N[,N...]   batch sizes (default 1,10)\n"
    "  --conv-algo A[,A...]  convolution algorithms, each run at every level:\n"
    "                     direct, winograd, kiln-winograd, auto (default direct)\n"
    "  --iters N          timed runs per fusion level (default 30)\n"
    "  --warmup N         untimed runs first (default 5)\n"
    "  --threads N        kernel threads, also used for the FMA peak (default all cores)\n"
    "  --seed S           seed for built-in weights and the random input (default 0)\n"
    "  --input X.npy      input instead of a random one; its dim 0 is the (only) batch\n"
    "  --outputs DIR      write each level's output as DIR/unfused.npy, bn.npy, all.npy,\n"
    "                     with each algorithm past the first DIR/unfused-auto.npy, ...\n"
    "                     (one batch only; DIR must exist)\n"
    "  --json             end stdout with one line of JSON\n";

struct UsageError {
  std::string message;
};

int64_t parse_int(const std::string& flag, const std::string& text, int64_t min) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < min)
    throw UsageError{flag + ": expected an integer >= " + std::to_string(min) + ", got '" + text +
                     "'"};
  return v;
}

// "a,b,c" -> {"a", "b", "c"}
std::vector<std::string> split_commas(const std::string& value) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    parts.push_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError{"unknown option or missing value: '" + flag + "'"};
    std::string value = argv[++i];
    if (flag == "--model") {
      o.model = value;
    } else if (flag == "--batch") {
      o.batches.clear();
      for (const std::string& part : split_commas(value)) o.batches.push_back(parse_int(flag, part, 1));
    } else if (flag == "--conv-algo") {
      o.conv_algos.clear();
      for (const std::string& part : split_commas(value)) {
        std::optional<ops::ConvAlgo> algo = ops::conv_algo_from_name(part);
        if (!algo) throw UsageError{flag + ": expected " + ops::conv_algo_names() + ", got '" + part + "'"};
        o.conv_algos.push_back(*algo);
      }
    } else if (flag == "--iters") {
      o.iters = static_cast<int>(parse_int(flag, value, 1));
    } else if (flag == "--warmup") {
      o.warmup = static_cast<int>(parse_int(flag, value, 0));
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parse_int(flag, value, 0));
    } else if (flag == "--seed") {
      o.seed = static_cast<uint64_t>(parse_int(flag, value, 0));
    } else if (flag == "--input") {
      o.input = value;
    } else if (flag == "--outputs") {
      o.outputs = value;
    } else {
      throw UsageError{"unknown option '" + flag + "'"};
    }
  }
  return o;
}

// Multiply-adds of one image's conv2d and linear nodes, times 2. For both,
// the MACs are (output elements) x (weight elements per output channel).
double graph_flops_per_image(const ir::Graph& graph) {
  double flops = 0;
  for (const auto& node : graph.nodes()) {
    if (node->op != "conv2d" && node->op != "linear") continue;
    const ir::Shape& out = node->output->shape;
    const ir::Shape& weight = node->inputs.at(1)->shape;
    double out_per_image = double(ir::shape_numel(ir::Shape(out.begin() + 1, out.end())));
    double weight_per_channel = double(ir::shape_numel(weight)) / double(weight[0]);
    flops += 2 * out_per_image * weight_per_channel;
  }
  return flops;
}

// The 1-minute load average before the runs (after them it counts this
// process too): a benchmark on a busy machine measures the other work.
double load_average() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double max_abs_diff(const ir::Tensor& a, const ir::Tensor& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    m = std::max(m, std::fabs(double(a.data[i]) - double(b.data[i])));
  return m;
}

double max_abs(const ir::Tensor& t) {
  double m = 0;
  for (float v : t.data) m = std::max(m, std::fabs(double(v)));
  return m;
}

struct Level {
  const char* name;
  engine::FuseLevel level;
};
const Level kLevels[] = {{"unfused", engine::FuseLevel::none},
                         {"bn", engine::FuseLevel::batchnorm},
                         {"all", engine::FuseLevel::all}};

// One batch size at one fusion level with one convolution algorithm.
struct Row {
  int64_t batch;
  const char* fusion;
  const char* conv_algo;
  size_t nodes, batchnorm, steps;
  engine::TimingStats time;
  double max_abs_diff;    // output vs the unfused output
  double max_abs_output;  // of the unfused output
};

// Times every algorithm at every level at `batch`, interleaved, on one input;
// graphs[i] is fused to kLevels[i].
std::vector<Row> time_batch(const std::vector<ir::Graph>& graphs, const ir::Tensor& input,
                            const Options& o) {
  const int64_t batch = input.shape[0];
  struct Variant {
    size_t level;
    ops::ConvAlgo algo;
    std::string output_name;  // "all", "all-auto"
  };
  std::vector<Variant> variants;
  for (size_t a = 0; a < o.conv_algos.size(); ++a) {
    const ops::ConvAlgo algo = o.conv_algos[a];
    for (size_t l = 0; l < graphs.size(); ++l) {
      std::string name = kLevels[l].name;
      if (a > 0) name += std::string("-") + ops::conv_algo_name(algo);
      variants.push_back({l, algo, name});
    }
  }
  std::vector<engine::Plan> plans;
  for (const Variant& v : variants) {
    engine::CompileOptions options;
    options.conv_algo = v.algo;
    plans.push_back(engine::compile(graphs[v.level], batch, options));
  }
  std::vector<engine::Context> contexts;
  for (const engine::Plan& p : plans) contexts.emplace_back(p);
  std::vector<engine::Context*> ctx_ptrs;
  for (engine::Context& c : contexts) ctx_ptrs.push_back(&c);

  std::vector<ir::Tensor> outputs;
  for (engine::Context* c : ctx_ptrs) outputs.push_back(c->run({input}).at(0));
  for (size_t i = 0; i < outputs.size() && !o.outputs.empty(); ++i)
    loaders::write_npy(o.outputs + "/" + variants[i].output_name + ".npy", outputs[i]);

  std::vector<engine::TimingStats> stats =
      engine::time_interleaved(ctx_ptrs, {input}, o.warmup, o.iters);
  std::vector<Row> rows;
  for (size_t i = 0; i < variants.size(); ++i) {
    const ir::Graph& g = graphs[variants[i].level];
    rows.push_back({batch, kLevels[variants[i].level].name, ops::conv_algo_name(variants[i].algo),
                    g.nodes().size(), g.count_op("batchnorm"), plans[i].step_count(), stats[i],
                    max_abs_diff(outputs[i], outputs[0]), max_abs(outputs[0])});
  }
  return rows;
}

int run(const Options& o) {
  engine::set_threads(o.threads);
  const int threads = engine::max_threads();

  std::vector<ir::Graph> graphs;
  for (const Level& l : kLevels) {
    ir::Graph g = engine::load_model(o.model, o.seed);
    engine::fuse(g, l.level);
    graphs.push_back(std::move(g));
  }
  const double flops_per_image = graph_flops_per_image(graphs[0]);

  std::vector<ir::Tensor> inputs;  // one per batch size
  if (!o.input.empty()) {
    inputs.push_back(loaders::read_npy(o.input));
    if (inputs[0].shape.empty()) throw Error(o.input, "expected a batch dimension, got a scalar");
  } else {
    for (int64_t batch : o.batches) {
      loaders::Random rng(o.seed + 1);
      ir::Shape shape = graphs[0].inputs().at(0)->shape;
      shape[0] = batch;
      inputs.push_back(loaders::random_tensor(shape, rng, -1, 1));
    }
  }
  if (!o.outputs.empty() && inputs.size() != 1)
    throw Error("--outputs: needs a single batch size, got " + std::to_string(inputs.size()));

  // The FMA peak is measured before the model runs and again after, keeping
  // the better of the two: a moment of load from elsewhere lowers one, not both.
  const double load_before = load_average();
  bench::FmaPeak peak = bench::measure_fma_peak(threads);
  std::vector<Row> rows;
  for (const ir::Tensor& input : inputs) {
    for (Row& r : time_batch(graphs, input, o)) rows.push_back(r);
  }
  bench::FmaPeak after = bench::measure_fma_peak(threads);
  peak.avx2_gflops = std::max(peak.avx2_gflops, after.avx2_gflops);
  peak.avx512_gflops = std::max(peak.avx512_gflops, after.avx512_gflops);
  const double rss = peak_rss_mb();

  std::printf("model %s: %.3f GFLOP per image (conv2d + linear, 2 x multiply-adds)\n",
              o.model.c_str(), flops_per_image / 1e9);
  std::printf("threads %d, oneDNN ISA %s, %d timed runs per level after %d warm-up, interleaved\n",
              threads, ops::isa_name(dnnl::get_effective_cpu_isa()).c_str(), o.iters, o.warmup);
  std::printf("FMA peak on %d threads: AVX2 %.1f GFLOP/s, AVX-512 %.1f GFLOP/s\n", threads,
              peak.avx2_gflops, peak.avx512_gflops);
  std::printf("load average (1 min) before the runs: %.2f%s\n\n", load_before,
              load_before > 1 ? " -- a busy machine, times are noisy" : "");
  std::printf("%5s  %-8s %-13s %5s %3s %10s %9s %8s %8s %6s %6s %10s\n", "batch", "fusion",
              "conv algo", "nodes", "bn", "median ms", "min ms", "img/s", "GFLOP/s", "%AVX2",
              "%A512", "max|diff|");
  nlohmann::json results = nlohmann::json::array();
  for (const Row& r : rows) {
    double images_per_s = double(r.batch) / (r.time.median_ms / 1e3);
    double gflops = flops_per_image * images_per_s / 1e9;
    double pct_avx2 = peak.avx2_gflops > 0 ? 100 * gflops / peak.avx2_gflops : 0;
    double pct_avx512 = peak.avx512_gflops > 0 ? 100 * gflops / peak.avx512_gflops : 0;
    std::printf("%5lld  %-8s %-13s %5zu %3zu %10.2f %9.2f %8.1f %8.1f %6.1f %6.1f %10.2e\n",
                static_cast<long long>(r.batch), r.fusion, r.conv_algo, r.nodes, r.batchnorm,
                r.time.median_ms,
                r.time.min_ms, images_per_s, gflops, pct_avx2, pct_avx512, r.max_abs_diff);
    results.push_back({{"batch", r.batch}, {"fusion", r.fusion}, {"conv_algo", r.conv_algo},
                       {"nodes", r.nodes},
                       {"batchnorm", r.batchnorm}, {"steps", r.steps},
                       {"median_ms", r.time.median_ms}, {"min_ms", r.time.min_ms},
                       {"max_ms", r.time.max_ms}, {"runs", r.time.runs},
                       {"images_per_s", images_per_s}, {"gflops", gflops},
                       {"pct_peak_avx2", pct_avx2}, {"pct_peak_avx512", pct_avx512},
                       {"max_abs_diff_vs_unfused", r.max_abs_diff}});
  }
  std::printf("\npeak RSS %.1f MB\n", rss);
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"threads", threads},
                        {"iters", o.iters},
                        {"warmup", o.warmup},
                        {"onednn_isa", ops::isa_name(dnnl::get_effective_cpu_isa())},
                        {"gflop_per_image", flops_per_image / 1e9},
                        {"fma_peak_gflops",
                         {{"avx2", peak.avx2_gflops}, {"avx512", peak.avx512_gflops}}},
                        {"peak_rss_mb", rss},
                        {"load_average_before", load_before},
                        {"results", results}};
    std::printf("%s\n", j.dump().c_str());
  }
  // A fusion must not change the result beyond float rounding (the fold
  // rescales weights, so outputs differ by ~1e-6 relative, not more).
  for (const Row& r : rows) {
    if (r.max_abs_diff > 1e-3 * std::max(1.0, r.max_abs_output)) {
      std::fprintf(stderr,
                   "resnet18: batch %lld, fusion '%s', conv algo %s: output differs from the "
                   "unfused one by %g (max |output| %g)\n",
                   static_cast<long long>(r.batch), r.fusion, r.conv_algo, r.max_abs_diff,
                   r.max_abs_output);
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "resnet18: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "resnet18: %s\n", e.what());
    return 1;
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "resnet18: oneDNN: %s\n", e.what());
    return 1;
  }
}
