#include "engine/cli/options.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>

namespace kiln::cli {

std::string usage() {
  return R"(usage: engine-run MODEL [options]

Runs a CNN on the CPU with Kiln. MODEL is a model directory (graph.json +
weights/, see docs/FORMAT.md), an .onnx file (docs/ONNX.md) or a built-in
model: resnet18, tutorial.

options:
  --fuse[=LEVEL]   run graph passes first. LEVEL: bn (default: fold every
                   BatchNorm into the conv or linear before it), all (bn plus
                   the fusions: activations into convs, conv + add, swish,
                   concat + batchnorm, channel shuffles, squeeze-excitation
                   blocks), none
  --conv-algo A    convolution algorithm: direct (default), winograd (Winograd
                   for every 3x3 stride-1 conv: oneDNN's where the CPU has it,
                   Kiln's own elsewhere; direct for the rest), kiln-winograd
                   (Kiln's own even where oneDNN has one), auto (per layer:
                   as tune timed it on this CPU if it did, else by rules
                   measured on AMD Zen 4 and 5), tune (per layer, time each kernel
                   now and keep the fastest; the times go to conv-tune.json
                   in $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else
                   ~/.cache/kiln, for auto)
  --conv-layout L  the activation layout convs ask oneDNN for: auto (default:
                   nChw16c on AVX-512 from a batch of 6 where 1x1 and grouped
                   convs hold half the conv work or more, or at any batch
                   where concats write 2e-3 floats or more per conv
                   multiply-add, and no node shuffles channels nor grouped
                   convs that nChw16c does not fit move 2.7e-3 floats or
                   more per multiply-add; else any), any
                   (as oneDNN picks: nhwc on AVX-512, nChw8c on AVX2),
                   blocked (nChw16c on AVX-512, nChw8c on AVX2)
  --input X.npy    input tensor, float32 C order; once per model input.
                   Default: a seeded random input of the model's shape
  --output Y.npy   write the output (once per model output, in order)
  --batch N        batch size (default: from --input, else 1)
  --threads N      threads for the kernels (default: all cores)
  --iters N        timed runs (default: 1, or 10 with --compare)
  --warmup N       untimed runs before them (default: 0, or 3 with --compare)
  --seed S         seed for built-in weights and the random input (default 0)
  --compare        compile the model at all three levels (unfused, bn, all,
                   whatever --fuse says), run them on the same input, print
                   timings, speed-ups, output differences and node counts;
                   --save and --output take the bn graph, or all's with
                   --fuse=all
  --dump-graph     print the graph (before and after the passes)
  --save DIR       write the model (after the passes) as a model directory:
                   built beside DIR, then replacing it whole (a failed save
                   leaves DIR as it was); DIR must be missing, empty or a
                   Kiln model directory
  --force          let --save replace a folder that is not a Kiln model
  --profile        print a per-node table: implementation, median time, share
                   of the total, GFLOP/s, and for a conv its algorithm and
                   why (over --iters runs, default 10)
  --trace FILE     write a Chrome trace (chrome://tracing, Perfetto) of one run
  --verify         run unfused and fused, compare every node with its
                   counterpart, fail naming the first node that diverges
  --json           end stdout with one line of JSON holding the results
  -v, --verbose    list every rewrite of the passes, and why they skipped
                   others; and the convs' layout, each conv's algorithm and why
  -h, --help       show this help

exit status: 0 success, 1 error (bad model, bad input, ...), 2 bad command line
)";
}

static int64_t parse_int(const std::string& flag, const std::string& text, int64_t min,
                         int64_t max) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    throw UsageError(flag + ": expected an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + text + "'");
  return v;
}

static Fuse parse_fuse(const std::string& name) {
  if (std::optional<Fuse> level = fuse_from_name(name)) return *level;
  // "bn, all or none": the levels that fuse, then none.
  std::string names;
  for (const FuseNames& level : fuse_levels()) {
    if (level.level != Fuse::none) names += names.empty() ? level.name : std::string(", ") + level.name;
  }
  throw UsageError("--fuse: expected " + names + " or " + fuse_names(Fuse::none).name + ", got '" +
                   name + "'");
}

static ConvAlgo parse_conv_algo(const std::string& name) {
  if (std::optional<ConvAlgo> algo = conv_algo_from_name(name)) return *algo;
  throw UsageError("--conv-algo: expected " + conv_algo_names() + ", got '" + name + "'");
}

static ConvLayout parse_conv_layout(const std::string& name) {
  if (std::optional<ConvLayout> layout = conv_layout_from_name(name)) return *layout;
  throw UsageError("--conv-layout: expected " + conv_layout_names() + ", got '" + name + "'");
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string inline_value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_inline = true;
    }
    auto value = [&]() -> std::string {
      if (has_inline) return inline_value;
      if (i + 1 >= args.size()) throw UsageError(arg + ": missing value");
      return args[++i];
    };
    auto no_value = [&] {
      if (has_inline) throw UsageError(arg + ": takes no value");
    };
    const int64_t int_max = std::numeric_limits<int>::max();
    if (arg == "-h" || arg == "--help") { no_value(); o.help = true; }
    else if (arg == "--fuse") o.fuse = has_inline ? parse_fuse(inline_value) : Fuse::batchnorm;
    else if (arg == "--conv-algo") o.compile.conv_algo = parse_conv_algo(value());
    else if (arg == "--conv-layout") o.compile.conv_layout = parse_conv_layout(value());
    else if (arg == "--input") o.inputs.push_back(value());
    else if (arg == "--output") o.outputs.push_back(value());
    else if (arg == "--batch") o.batch = parse_int(arg, value(), 1, 1 << 20);
    else if (arg == "--threads") o.threads = static_cast<int>(parse_int(arg, value(), 1, 1024));
    else if (arg == "--iters") o.iters = static_cast<int>(parse_int(arg, value(), 1, int_max));
    else if (arg == "--warmup") o.warmup = static_cast<int>(parse_int(arg, value(), 0, int_max));
    else if (arg == "--seed") o.seed = static_cast<uint64_t>(parse_int(arg, value(), 0, std::numeric_limits<int64_t>::max()));
    else if (arg == "--compare") { no_value(); o.compare = true; }
    else if (arg == "--dump-graph") { no_value(); o.dump_graph = true; }
    else if (arg == "--save") o.save_dir = value();
    else if (arg == "--force") { no_value(); o.force = true; }
    else if (arg == "--profile") { no_value(); o.profile = true; }
    else if (arg == "--trace") o.trace_file = value();
    else if (arg == "--verify") { no_value(); o.verify = true; }
    else if (arg == "--json") { no_value(); o.json = true; }
    else if (arg == "-v" || arg == "--verbose") { no_value(); o.verbose = true; }
    else if (!arg.empty() && arg[0] == '-') throw UsageError("unknown option '" + arg + "'");
    else if (o.model.empty()) o.model = arg;
    else throw UsageError("unexpected argument '" + arg + "' (the model is '" + o.model + "')");
  }
  if (o.help) return o;
  if (o.model.empty()) throw UsageError("missing MODEL (a model directory, an .onnx file or a built-in name)");
  if (o.force && o.save_dir.empty()) throw UsageError("--force: only with --save DIR");
  if (o.compare && o.verify) throw UsageError("--compare and --verify are separate modes: pick one");
  if ((o.compare || o.verify) && o.fuse == Fuse::none) o.fuse = Fuse::batchnorm;
  if (o.iters < 0) o.iters = o.compare || o.profile ? 10 : 1;
  if (o.warmup < 0) o.warmup = o.compare ? 3 : 0;
  return o;
}

}  // namespace kiln::cli
