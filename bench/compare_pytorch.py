#!/usr/bin/python3
"""ResNet18 in Kiln, PyTorch and (optionally) ONNX Runtime, side by side, in one run.

    /usr/bin/python3 bench/compare_pytorch.py [--batch 1 10] [--threads 2] [--iters 30]
        [--warmup 5] [--conv-algo direct auto] [--with-ort]
        [--kiln build-bench/bench/resnet18] [--out bench/results]

One model for all: torchvision's resnet18 (random init, seeded) with every
BatchNorm's statistics and affine parameters randomised, exported to a Kiln
model directory with loaders/torch/export.py and, for ONNX Runtime, to ONNX
with torch.onnx.export. Per batch size, all get the same seeded input and
the same number of threads:

  PyTorch eager                 the nn.Module in eval mode, under torch.no_grad()
  PyTorch FX fuse               torch.fx.experimental.optimization.fuse (conv/BN folded)
  PyTorch TorchScript           torch.jit.freeze(torch.jit.script(m)), then
                                torch.jit.optimize_for_inference
  Kiln unfused / bn / all       bench/resnet18 --input (FuseLevel none / batchnorm / all)
                                with the first --conv-algo (default direct)
  Kiln all fusions, A convs     the same at FuseLevel all with each further --conv-algo A
                                (default auto: Winograd where it measured faster)
  ONNX Runtime                  bench/ort/run_ort.js, all graph optimisations (--with-ort)

Each reports the median (and minimum) of --iters timed runs after --warmup
untimed ones; PyTorch's three run interleaved, as do all of Kiln's. Every
output is checked against PyTorch eager's. Then the ratios the performance
targets are stated in: each Kiln all-fusions row over ONNX Runtime and over
PyTorch eager, per batch. The table goes to stdout and to
OUT/compare.md (with OUT/compare.json); a bar chart to OUT/compare.png when
matplotlib is installed (Debian: python3-matplotlib).
"""

import argparse
import copy
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.fx.experimental.optimization as fx_optimization

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
ORT_DIR = os.path.join(BENCH, "ort")
KILN_CANDIDATES = ["build-bench/bench/resnet18", "build/bench/resnet18"]


def fail(message):
    print(f"compare_pytorch.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def load_exporter():
    path = os.path.join(REPO, "loaders", "torch", "export.py")
    if not os.path.isfile(path):
        fail(f"{path} not found: it exports the PyTorch model for Kiln")
    spec = importlib.util.spec_from_file_location("kiln_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_executable(given, option, candidates, what, how_to_build, error=fail):
    """`given` (the value of `option`) if it is an executable, else the first candidate
    (relative to the repository) that is; else error() saying how to build `what`."""
    if given:
        if not os.access(given, os.X_OK):
            error(f"{option}: '{given}' is not an executable")
        return given
    for rel in candidates:
        path = os.path.join(REPO, rel)
        if os.access(path, os.X_OK):
            return path
    error(f"{what} not found (looked in " + ", ".join(candidates) + f"); build it with "
          f"{how_to_build}, or pass {option} PATH")


def find_kiln(given):
    return find_executable(given, "--kiln", KILN_CANDIDATES, "bench/resnet18",
                           "cmake -S . -B build-bench -DKILN_BUILD_BENCH=ON -DKILN_NATIVE=ON && "
                           "cmake --build build-bench --target bench_resnet18")


# ---- PyTorch ---------------------------------------------------------------------------

def pytorch_variants(module, example):
    """(name, callable) for each way of running the module in PyTorch."""
    fx_fused = fx_optimization.fuse(copy.deepcopy(module))
    with torch.no_grad():
        scripted = torch.jit.script(copy.deepcopy(module).eval())
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(scripted))
        frozen(example)  # the first runs of a TorchScript module are its profiling runs
    return [("PyTorch eager", module), ("PyTorch FX fuse", fx_fused),
            ("PyTorch TorchScript", frozen)]


def time_pytorch(variants, x, warmup, iters):
    """Interleaved (A B C A B C ...) timing; returns ({name: stats}, {name: output})."""
    samples = {name: [] for name, _ in variants}
    outputs = {}
    with torch.no_grad():
        for name, fn in variants:
            for _ in range(warmup):
                outputs[name] = fn(x)
        for _ in range(iters):
            for name, fn in variants:
                start = time.perf_counter()
                fn(x)
                samples[name].append((time.perf_counter() - start) * 1e3)
    return ({name: stats(s) for name, s in samples.items()},
            {name: y.numpy() for name, y in outputs.items()})


def stats(samples_ms):
    return {"median_ms": statistics.median(samples_ms), "min_ms": min(samples_ms),
            "max_ms": max(samples_ms), "runs": len(samples_ms)}


# ---- Kiln ------------------------------------------------------------------------------

KILN_LEVELS = [("unfused", "Kiln unfused"), ("bn", "Kiln BN-folded"), ("all", "Kiln all fusions")]


def kiln_algo_name(algo):
    return f"Kiln all fusions, {algo} convs"


def time_kiln(kiln, model_dir, x_path, threads, warmup, iters, conv_algos, work):
    """Returns ({name: stats}, {name: output}, bench/resnet18's JSON report).

    All three levels with conv_algos[0]; the all-fusions level with the others."""
    cmd = [kiln, "--model", model_dir, "--input", x_path, "--threads", str(threads),
           "--iters", str(iters), "--warmup", str(warmup), "--conv-algo", ",".join(conv_algos),
           "--outputs", work, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    wanted = [(level, conv_algos[0], name, f"{level}.npy") for level, name in KILN_LEVELS]
    wanted += [("all", algo, kiln_algo_name(algo), f"all-{algo}.npy") for algo in conv_algos[1:]]
    results, outputs = {}, {}
    for level, algo, name, file in wanted:
        row = next(r for r in report["results"]
                   if r["fusion"] == level and r["conv_algo"] == algo)
        results[name] = {k: row[k] for k in ("median_ms", "min_ms", "max_ms", "runs")}
        outputs[name] = np.load(os.path.join(work, file))
    return results, outputs, report


# ---- ONNX Runtime ----------------------------------------------------------------------

def ensure_ort():
    """Installs bench/ort's pinned onnxruntime-node (npm ci) if missing; None if impossible."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("ONNX Runtime: skipped, node and npm are needed (Debian: nodejs, npm)")
        return None
    if not os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        print("ONNX Runtime: installing bench/ort (npm ci) ...", flush=True)
        # The package's install script fetches only optional CUDA binaries; skip it.
        env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
        proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ORT_DIR, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"ONNX Runtime: skipped, npm ci in bench/ort failed: {tail}")
            return None
    return os.path.join(ORT_DIR, "run_ort.js")


def export_onnx(module, example, path):
    torch.onnx.export(module, example, path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=13)


def time_ort(run_ort, onnx_path, x, threads, warmup, iters, work):
    x_path = os.path.join(work, "ort_x.f32")
    y_path = os.path.join(work, "ort_y.f32")
    x.numpy().astype("<f4").tofile(x_path)
    cmd = ["node", run_ort, "--model", onnx_path, "--input", x_path,
           "--shape", ",".join(str(d) for d in x.shape), "--threads", str(threads),
           "--iters", str(iters), "--warmup", str(warmup), "--output", y_path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    y = np.fromfile(y_path, dtype="<f4").reshape(x.shape[0], -1)
    return {k: report[k] for k in ("median_ms", "min_ms", "max_ms", "runs")}, y, report


# ---- the report ------------------------------------------------------------------------

def table_order(conv_algos):
    return ([kiln_algo_name(a) for a in conv_algos[1:]] +
            ["Kiln all fusions", "Kiln BN-folded", "Kiln unfused", "PyTorch eager",
             "PyTorch FX fuse", "PyTorch TorchScript", "ONNX Runtime"])


def table_rows(results, order):
    """[(batch, name, stats, ratio vs Kiln all fusions)], in `order` per batch."""
    rows = []
    for batch, by_name in results.items():
        base = by_name["Kiln all fusions"]["median_ms"]
        for name in order:
            if name in by_name:
                s = by_name[name]
                rows.append((batch, name, s, s["median_ms"] / base))
    return rows


def markdown_table(rows):
    lines = ["| batch | implementation | median ms | min ms | images/s | max abs diff vs eager "
             "| time / Kiln all |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for batch, name, s, ratio in rows:
        lines.append(f"| {batch} | {name} | {s['median_ms']:.2f} | {s['min_ms']:.2f} | "
                     f"{batch / s['median_ms'] * 1e3:.1f} | {s['max_abs_diff']:.1e} | "
                     f"{ratio:.2f}x |")
    return "\n".join(lines)


def target_ratios(results, conv_algos, first_algo):
    """Lines like 'Kiln all fusions (direct convs) / ONNX Runtime: batch 1 0.99x, ...'."""
    kiln_rows = [("Kiln all fusions", f"Kiln all fusions ({first_algo} convs)")]
    kiln_rows += [(kiln_algo_name(a), kiln_algo_name(a)) for a in conv_algos[1:]]
    lines = []
    for other in ("ONNX Runtime", "PyTorch eager"):
        for name, label in kiln_rows:
            ratios = [f"batch {b} {by_name[name]['median_ms'] / by_name[other]['median_ms']:.2f}x"
                      for b, by_name in results.items() if other in by_name]
            if ratios:
                lines.append(f"{label} / {other}: " + ", ".join(ratios))
    return "\n".join(lines)


def write_chart(rows, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped, matplotlib is not installed "
              "(Debian: apt-get install python3-matplotlib)")
        return False
    batches = sorted({r[0] for r in rows})
    fig, axes = plt.subplots(1, len(batches), figsize=(6 * len(batches), 4), squeeze=False)
    for ax, batch in zip(axes[0], batches):
        mine = [r for r in rows if r[0] == batch][::-1]  # first row at the top
        names = [r[1] for r in mine]
        ms = [r[2]["median_ms"] for r in mine]
        colors = ["tab:orange" if n.startswith("Kiln") else "tab:blue" if n.startswith("PyTorch")
                  else "tab:green" for n in names]
        bars = ax.barh(names, ms, color=colors)
        for bar, r in zip(bars, mine):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {r[2]['median_ms']:.1f} ms ({r[3]:.2f}x)", va="center", fontsize=8)
        ax.set_xlim(0, max(ms) * 1.35)
        ax.set_xlabel("median ms per batch (lower is better)")
        ax.set_title(f"batch {batch}")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def cpu_name():
    """The CPU, named well enough to tell which kernels ran: its model name
    (a virtual machine may only say "AMD EPYC"), family and model numbers
    (AMD family 25 is Zen 3 or 4, 26 Zen 5) and its widest vector ISA."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model", "flags") and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    flags = fields.get("flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    if isa:
        details.append(isa)
    return f"{name} ({', '.join(details)})" if details else name


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 10],
                   help="batch sizes (default 1 10)")
    p.add_argument("--threads", type=int, default=2, help="threads for every engine (default 2)")
    p.add_argument("--iters", type=int, default=30, help="timed runs each (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, BN values, input")
    p.add_argument("--conv-algo", nargs="+", default=["direct", "auto"],
                   choices=["direct", "winograd", "kiln-winograd", "auto"],
                   help="Kiln's convolution algorithms: the first for all three levels, each "
                   "further one for the all-fusions level (default direct auto)")
    p.add_argument("--with-ort", action="store_true",
                   help="add ONNX Runtime (installs bench/ort with npm ci if needed)")
    p.add_argument("--kiln", metavar="PATH", help="the bench/resnet18 binary (default: look in "
                   + ", ".join(KILN_CANDIDATES) + ")")
    p.add_argument("--out", metavar="DIR", default=os.path.join(BENCH, "results"),
                   help="where compare.md, compare.json, compare.png go (default bench/results)")
    args = p.parse_args()
    if args.threads < 1 or args.iters < 1 or args.warmup < 0 or min(args.batch) < 1:
        fail("--threads, --iters and --batch must be positive, --warmup not negative")
    if len(set(args.conv_algo)) != len(args.conv_algo):
        fail(f"--conv-algo: each algorithm once, got {' '.join(args.conv_algo)}")

    kiln = find_kiln(args.kiln)
    run_ort = ensure_ort() if args.with_ort else None
    torch.set_num_threads(args.threads)
    export = load_exporter()

    module = export.build_torchvision("resnet18", args.seed)
    export.randomize_bn(module, args.seed)
    module.eval()
    example = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(args.seed))

    results, reports = {}, {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kiln-compare-") as work:
        model_dir = os.path.join(work, "resnet18")
        export.export(module, example, model_dir)
        onnx_path = None
        if run_ort:
            onnx_path = os.path.join(work, "resnet18.onnx")
            export_onnx(module, example, onnx_path)
        variants = pytorch_variants(module, example)

        for batch in args.batch:
            print(f"batch {batch}: PyTorch ...", flush=True)
            x = torch.randn(batch, 3, 224, 224,
                            generator=torch.Generator().manual_seed(args.seed + batch))
            x_path = os.path.join(work, f"x{batch}.npy")
            np.save(x_path, x.numpy())
            by_name, outputs = time_pytorch(variants, x, args.warmup, args.iters)

            print(f"batch {batch}: Kiln ...", flush=True)
            kiln_stats, kiln_outputs, reports[f"kiln_batch{batch}"] = time_kiln(
                kiln, model_dir, x_path, args.threads, args.warmup, args.iters, args.conv_algo,
                work)
            by_name.update(kiln_stats)
            outputs.update(kiln_outputs)

            if run_ort:
                print(f"batch {batch}: ONNX Runtime ...", flush=True)
                by_name["ONNX Runtime"], outputs["ONNX Runtime"], reports[f"ort_batch{batch}"] = \
                    time_ort(run_ort, onnx_path, x, args.threads, args.warmup, args.iters, work)

            eager = outputs["PyTorch eager"]
            for name, s in by_name.items():
                s["max_abs_diff"] = float(np.abs(outputs[name].reshape(eager.shape) - eager).max())
            results[batch] = by_name

    rows = table_rows(results, table_order(args.conv_algo))
    command = "/usr/bin/python3 bench/compare_pytorch.py " + " ".join(sys.argv[1:])
    versions = (f"torch {torch.__version__}, torchvision "
                f"{__import__('torchvision').__version__}, oneDNN in Kiln: "
                f"{reports[f'kiln_batch{args.batch[0]}']['onednn_isa']}")
    if run_ort:
        versions += f", onnxruntime-node {reports[f'ort_batch{args.batch[0]}']['ort_version']}"
    header = (f"ResNet18 (torchvision, randomised BN), {args.threads} threads, median of "
              f"{args.iters} runs after {args.warmup} warm-up, {cpu_name()} "
              f"({os.cpu_count()} CPUs), {datetime.date.today()}")
    table = markdown_table(rows)
    note = (f"time / Kiln all = median / the median of Kiln all fusions with {args.conv_algo[0]} "
            "convs (above 1: slower than it).")
    ratios = target_ratios(results, args.conv_algo, args.conv_algo[0])
    # Only before: during the runs the load average counts the benchmark itself.
    load = f"load average (1 min) before the runs: {load_before:.2f}"
    if load_before > 1:
        load += " -- a busy machine, times are noisy"
    text = f"{header}\n{versions}\n{load}\n\n{table}\n\n{note}\n\n{ratios}\n\n    {command}\n"
    print()
    print(text)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "compare.json"), "w") as f:
        json.dump({"command": command, "header": header, "versions": versions,
                   "load_average_before": load_before,
                   "results": {str(b): r for b, r in results.items()}, "reports": reports}, f,
                  indent=1)
    if write_chart(rows, os.path.join(args.out, "compare.png"), header):
        print(f"wrote {os.path.join(args.out, 'compare.md')}, compare.json, compare.png")
    else:
        print(f"wrote {os.path.join(args.out, 'compare.md')}, compare.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
