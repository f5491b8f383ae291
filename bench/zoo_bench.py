#!/usr/bin/python3
"""The model zoo in Kiln, ONNX Runtime and PyTorch, side by side, in one run.

    /usr/bin/python3 bench/zoo_bench.py [--models resnet18,mobilenet_v2,...] [--batch 1 10]
        [--threads 2] [--rounds 2] [--iters 8] [--warmup 1] [--budget 5] [--quick]
        [--engine-run build-bench/engine-run] [--out bench/results] [--readme README.md]

Per model: torchvision's module (seeded random init, every BatchNorm's statistics and
affine parameters randomised) is exported once for Kiln (loaders/torch/export.py) and
once to ONNX (torch.onnx.export, opset 13). Per batch size, every engine gets the same
224x224 input and the same thread count, each in a fresh process (bench/zoo_engines.py):

  Kiln none / bn / all   engine-run --fuse=none|bn|all, direct convolutions
  Kiln all + auto        engine-run --fuse=all --conv-algo auto (Winograd where it wins)
  Kiln on the .onnx      the same, on the very model.onnx ONNX Runtime runs (Kiln's
                         ONNX loader); its output is checked against ONNX Runtime's too
  ONNX Runtime           bench/ort/run_ort.js (onnxruntime-node), all graph optimisations
  PyTorch eager          the nn.Module under no_grad

The seven processes alternate in --rounds rounds (the order rotated each round), so
that a machine growing busier slows all alike; each time is the median of the
rounds' medians of --iters runs after --warmup, and each ratio to ONNX Runtime the
median of the rounds' own ratios (a round's two runs are close in time, so a busy
spell between rounds cancels out). Every output is checked against
PyTorch eager's: max |y - ref| <= 1e-4 x max |ref|; a failure shows in the table
(the cell is marked, the error listed under it), as does an engine that failed to run.
Set-up is Kiln's load + passes + compile in its fresh process (all + auto, batch 1)
and ONNX Runtime's session creation; peak RSS is each process's ru_maxrss.

Writes OUT/zoo.md, zoo.json and zoo.png (matplotlib: the Kiln / ONNX Runtime time
ratio per model); --readme FILE puts the tables between <!-- zoo-bench begin --> and
<!-- zoo-bench end --> in FILE. Exit status 1 when an engine failed or an output was
off; the tables are written all the same.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

from compare_pytorch import cpu_name, ensure_ort, export_onnx, find_executable
from zoo_engines import TIME, build_module, kiln_run, load_exporter, ort_run, torch_run
import zoo_report

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
# The nineteen CNNs of the zoo issue (13), whose every model issue 14 holds to ONNX
# Runtime's time: first the ten its field table names, then the other nine.
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
          "densenet121", "regnet_y_400mf", "shufflenet_v2_x1_0", "convnext_tiny", "googlenet",
          "resnext50_32x4d", "wide_resnet50_2", "vgg11_bn", "alexnet", "squeezenet1_0",
          "inception_v3", "mobilenet_v3_small", "mnasnet1_0", "regnet_x_400mf"]
ENGINE_RUN_CANDIDATES = ["build-bench/engine-run", "build/engine-run"]
# engine key -> (fuse level, conv algorithm) for Kiln's rows
KILN = {"kiln_none": ("none", "direct"), "kiln_bn": ("bn", "direct"),
        "kiln_all": ("all", "direct"), "kiln_auto": ("all", "auto")}
# kiln_onnx: Kiln on the very .onnx file ONNX Runtime runs, checked against both.
ENGINES = list(KILN) + ["kiln_onnx", "ort", "torch"]
TOLERANCE = 1e-4
SIZE = 224


def fail(message):
    print(f"zoo_bench.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def find_engine_run(given):
    return find_executable(given, "--engine-run", ENGINE_RUN_CANDIDATES, "engine-run",
                           "cmake --build build-bench --target engine-run", fail)


def rel_error(got, ref):
    import numpy as np
    if got is None or got.size != ref.size:
        return float("inf")
    got = got.reshape(ref.shape).astype(np.float64)
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Model:
    """One model's files and its runs: runs[batch][engine] = [Run per round]."""

    def __init__(self, name, work):
        self.name = name
        self.work = os.path.join(work, name)
        self.kiln_dir = os.path.join(self.work, "kiln")
        self.onnx = os.path.join(self.work, "model.onnx")
        self.failed = {}        # engine -> why it cannot run this model at all
        self.runs = {}

    def prepare(self, kx, seed, with_ort):
        import torch
        os.makedirs(self.work, exist_ok=True)
        module = build_module(kx, self.name, seed)
        example = kx.reference_input([1, 3, SIZE, SIZE], seed)
        try:
            kx.export(module, example, self.kiln_dir)
        except kx.ExportError as e:
            for key in KILN:
                self.failed[key] = f"export: {e}"
        if not with_ort:
            self.failed["ort"] = "not run (node/npm or bench/ort missing)"
        try:
            export_onnx(module, example, self.onnx)
        except (RuntimeError, torch.onnx.errors.OnnxExporterError) as e:
            for key in ("ort", "kiln_onnx"):
                self.failed[key] = f"torch.onnx.export: {str(e).splitlines()[0]}"

    def inputs(self, kx, batch, seed):
        import numpy as np
        x = kx.reference_input([batch, 3, SIZE, SIZE], seed + batch).numpy()
        x_npy, x_f32 = os.path.join(self.work, f"x{batch}.npy"), os.path.join(self.work, f"x{batch}.f32")
        np.save(x_npy, x)
        x.astype("<f4").tofile(x_f32)
        return x_npy, x_f32, list(x.shape)

    def run_round(self, args, batch, files, order):
        x_npy, x_f32, shape = files
        for key in order:
            earlier = self.runs[batch].setdefault(key, [])
            if key in self.failed or any(r.error or r.cold for r in earlier):
                continue  # failed before, or too slow to repeat (PyTorch over its budget)
            y = os.path.join(self.work, f"y_{key}")
            if key in KILN:
                level, algo = KILN[key]
                run = kiln_run(args.engine_run, self.kiln_dir, level, algo, x_npy, y + ".npy",
                               args.threads, args.warmup, args.iters)
            elif key == "kiln_onnx":
                run = kiln_run(args.engine_run, self.onnx, "all", "auto", x_npy, y + ".npy",
                               args.threads, args.warmup, args.iters)
            elif key == "ort":
                run = ort_run(args.run_ort, self.onnx, x_f32, shape, y + ".f32", args.threads,
                              args.warmup, args.iters)
            else:
                run = torch_run(self.name, args.seed, x_npy, y + ".npy", args.threads,
                                args.warmup, args.iters, args.budget)
            earlier.append(run)

    def summary(self, batch):
        """{engine: cell} for zoo_report: medians over rounds, error against PyTorch."""
        runs = self.runs[batch]
        ref = next((r.output for r in runs.get("torch", []) if r.output is not None), None)
        ort_ref = next((r.output for r in runs.get("ort", []) if r.output is not None), None)
        cells = {}
        for key in ENGINES:
            done = [r for r in runs.get(key, []) if r.error is None]
            errors = [r.error for r in runs.get(key, []) if r.error]
            if key in self.failed or not done:
                cells[key] = {"error": self.failed.get(key) or (errors[0] if errors else "not run")}
                continue
            worst = max(rel_error(r.output, ref) for r in done) if ref is not None else None
            cells[key] = {
                "median_ms": statistics.median(r.median_ms for r in done),
                "min_ms": min(r.min_ms for r in done),
                "rounds": len(done), "runs": sum(r.runs for r in done),
                "cold": any(r.cold for r in done),
                "setup_ms": statistics.median(r.setup_ms for r in done),
                "peak_rss_mb": median_or_none([r.peak_rss_mb for r in done]),
                "rel_error": worst, "ok": worst is not None and worst <= TOLERANCE,
                "version": done[0].report.get("ort_version") or done[0].report.get("torch_version"),
            }
            if key == "kiln_onnx":
                vs_ort = (max(rel_error(r.output, ort_ref.reshape(r.output.shape)) for r in done)
                          if ort_ref is not None else None)
                cells[key]["vs_ort"] = vs_ort
                cells[key]["ok"] = cells[key]["ok"] and vs_ort is not None and vs_ort <= TOLERANCE
            if key.startswith("kiln"):
                cells[key]["ort_ratios"] = round_ratios(runs.get(key, []), runs.get("ort", []))
            if errors:
                cells[key]["error"] = f"{len(errors)} of {len(errors) + len(done)} rounds: {errors[0]}"
            for r in done:
                r.output = None  # keep memory flat over the zoo
        return cells


def round_ratios(kiln_runs, ort_runs):
    """Kiln's time over ONNX Runtime's, round by round, for the rounds where both ran.
    Each list has one run per round from the first on (an engine that failed stops)."""
    return [k.median_ms / o.median_ms for k, o in zip(kiln_runs, ort_runs)
            if k.error is None and o.error is None]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated torchvision names (default: the nineteen of issue 13)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 10], help="default 1 10")
    p.add_argument("--threads", type=int, default=2, help="for every engine (default 2)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    p.add_argument("--iters", type=int, default=8, help="timed runs per round (default 8)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--budget", type=float, default=5.0,
                   help="PyTorch: seconds of timed runs per round at most (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="a try-out: 1 round of 3 runs after 1 warm-up, PyTorch budget 3 s")
    p.add_argument("--seed", type=int, default=0, help="weights, BN values and input")
    p.add_argument("--engine-run", help="default: " + ", ".join(ENGINE_RUN_CANDIDATES))
    p.add_argument("--no-ort", action="store_true", help="leave ONNX Runtime out")
    p.add_argument("--out", default=os.path.join(BENCH, "results"),
                   help="where zoo.md, zoo.json, zoo.png go (default bench/results)")
    p.add_argument("--readme", help="put the tables between the zoo-bench markers of this file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.iters, args.warmup, args.budget = 1, 3, 1, 3.0
    if min(args.threads, args.rounds, args.iters, args.warmup, *args.batch) < 1:
        fail("--threads, --rounds, --iters, --warmup and --batch must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    args.engine_run = find_engine_run(args.engine_run)
    if not os.access(TIME, os.X_OK):
        fail(f"{TIME} not found: it measures each engine's peak RSS (Debian: time; "
             "scripts/install-deps bench installs it)")
    args.run_ort = None if args.no_ort else ensure_ort()
    kx = load_exporter()
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    names = [n for n in args.models.split(",") if n]
    results = []
    with tempfile.TemporaryDirectory(prefix="kiln-zoo-bench-") as work:
        for i, name in enumerate(names):
            log(began, f"{name} ({i + 1}/{len(names)}): export")
            model = Model(name, work)
            try:
                model.prepare(kx, args.seed, args.run_ort is not None)
            except (kx.ExportError, AttributeError, TypeError) as e:
                results.append({"model": name, "failed": str(e).splitlines()[0]})
                continue
            row = {"model": name, "batches": {}}
            for batch in args.batch:
                files = model.inputs(kx, batch, args.seed)
                model.runs[batch] = {}
                for r in range(args.rounds):
                    log(began, f"{name} batch {batch}: round {r + 1}/{args.rounds}")
                    shift = r % len(ENGINES)
                    model.run_round(args, batch, files, ENGINES[shift:] + ENGINES[:shift])
                row["batches"][str(batch)] = model.summary(batch)
            results.append(row)
            print(zoo_report.progress_line(row), file=sys.stderr, flush=True)
    meta = {
        "cpu": cpu_name(), "cpus": os.cpu_count(), "date": str(datetime.date.today()),
        "threads": args.threads, "rounds": args.rounds, "iters": args.iters,
        "warmup": args.warmup, "budget_s": args.budget, "size": SIZE, "batches": args.batch,
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
        "wall_s": time.monotonic() - began, "tolerance": TOLERANCE,
        "versions": zoo_report.versions(results),
        "command": "/usr/bin/python3 bench/zoo_bench.py " + " ".join(sys.argv[1:] if argv is None
                                                                     else argv),
    }
    ok = zoo_report.write(results, meta, args.out, args.readme)
    log(began, f"done: {args.out}/zoo.md" + ("" if ok else " -- with failures, see the table"))
    return 0 if ok else 1


def log(began, text):
    print(f"[{time.monotonic() - began:6.0f} s] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
