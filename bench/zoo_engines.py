#!/usr/bin/python3
"""The three engines of bench/zoo_bench.py, each run as a fresh process:

  kiln_run    engine-run MODEL_DIR --fuse=LEVEL --conv-algo A --input X.npy --output Y.npy
  ort_run     node bench/ort/run_ort.js --model M.onnx --input X.f32 --output Y.f32
  torch_run   this file's `torch` command: the torchvision module rebuilt from the same
              seed (random init, randomised BatchNorms), eager, under no_grad

Each returns a Run: its median and min ms, the timed runs, the set-up ms (Kiln: load +
passes + compile; ONNX Runtime: session creation; PyTorch: building the module), the
process's peak RSS (ru_maxrss from wait4, so the whole process: Python and torch for
PyTorch, node for ONNX Runtime) and its output, or the error that stopped it.

    /usr/bin/python3 bench/zoo_engines.py torch --model NAME --seed S --input X.npy
        --output Y.npy [--threads 2] [--warmup 2] [--iters 10] [--budget 15]

The PyTorch command stops timing once --budget seconds have gone by (at least one
timed run); when the first, untimed run alone takes longer than the budget, that run
is the only sample (`cold` in its JSON). Debian's PyTorch multiplies matrices with the
reference BLAS, so models whose pointwise layers are nn.Linear (convnext_tiny) take
seconds per image.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from zoo_table import load_exporter

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
TIME = "/usr/bin/time"


@dataclass
class Run:
    median_ms: float = None
    min_ms: float = None
    runs: int = 0
    setup_ms: float = None
    peak_rss_mb: float = None
    output: object = None          # numpy array, the engine's first output
    error: str = None              # why the process failed; None when it ran
    cold: bool = False             # the only sample was the first run (PyTorch, over budget)
    report: dict = field(default_factory=dict)


def run_process(cmd, threads):
    """Runs cmd with OMP_NUM_THREADS=threads; returns (exit code, stdout, stderr, peak RSS MB).

    The peak RSS comes from /usr/bin/time (Debian: time): a child forked from this
    process and exec'd would report this big process's RSS as its own ru_maxrss
    (Linux carries the forked copy's high-water mark across exec); time's child is
    forked from time, which is small."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        proc = subprocess.run([TIME, "-f", "%M", "-o", rss.name, *cmd], capture_output=True,
                              text=True, env=env)
        kb = rss.read().strip().splitlines()
    peak = float(kb[-1]) / 1024 if kb and kb[-1].isdigit() else None
    return proc.returncode, proc.stdout, proc.stderr, peak


def last_json(stdout):
    lines = stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def finish(cmd_name, cmd, threads, setup_key, read_output):
    """Runs cmd; a Run from its last line of JSON and read_output(), or with .error."""
    code, out, err, rss = run_process(cmd, threads)
    if code != 0:
        lines = (err.strip() or out.strip() or f"exit status {code}").splitlines()
        return Run(error=f"{cmd_name}: {lines[-1]}", peak_rss_mb=rss)
    report = last_json(out)
    setup = sum(report[k] for k in setup_key) if isinstance(setup_key, tuple) else report[setup_key]
    return Run(median_ms=report["median_ms"], min_ms=report["min_ms"], runs=report["runs"],
               setup_ms=setup, peak_rss_mb=rss, output=read_output(),
               cold=bool(report.get("cold")), report=report)


def kiln_run(engine_run, model_dir, level, algo, x_npy, y_npy, threads, warmup, iters):
    import numpy as np
    cmd = [engine_run, model_dir, f"--fuse={level}", "--conv-algo", algo, "--input", x_npy,
           "--output", y_npy, "--threads", str(threads), "--warmup", str(warmup),
           "--iters", str(iters), "--json"]
    return finish(f"engine-run --fuse={level} --conv-algo {algo}", cmd, threads,
                  ("load_ms", "passes_ms", "compile_ms"), lambda: np.load(y_npy))


def ort_run(run_ort, onnx_path, x_f32, shape, y_f32, threads, warmup, iters):
    import numpy as np
    cmd = ["node", run_ort, "--model", onnx_path, "--input", x_f32,
           "--shape", ",".join(str(d) for d in shape), "--threads", str(threads),
           "--iters", str(iters), "--warmup", str(warmup), "--output", y_f32]
    return finish("run_ort.js", cmd, threads, "session_ms",
                  lambda: np.fromfile(y_f32, dtype="<f4").reshape(shape[0], -1))


def torch_run(name, seed, x_npy, y_npy, threads, warmup, iters, budget):
    import numpy as np
    cmd = [sys.executable, os.path.abspath(__file__), "torch", "--model", name, "--seed",
           str(seed), "--input", x_npy, "--output", y_npy, "--threads", str(threads),
           "--warmup", str(warmup), "--iters", str(iters), "--budget", str(budget)]
    return finish("PyTorch", cmd, threads, "setup_ms", lambda: np.load(y_npy))


def build_module(kx, name, seed):
    """The benchmark's module: torchvision `name`, seeded random init, BN randomised."""
    module = kx.build_torchvision(name, seed)
    kx.randomize_bn(module, seed)
    return module.eval()


# ---- the PyTorch process ---------------------------------------------------------------

def torch_main(argv):
    p = argparse.ArgumentParser(prog="zoo_engines.py torch")
    p.add_argument("--model", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--budget", type=float, default=15.0, help="seconds of timed runs at most")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    module = build_module(load_exporter(), args.model, args.seed)
    setup_ms = (time.perf_counter() - start) * 1e3
    x = torch.from_numpy(np.load(args.input))
    samples = []
    with torch.no_grad():
        start = time.perf_counter()
        y = module(x)
        first = time.perf_counter() - start
        cold = first > args.budget
        if cold:
            samples.append(first * 1e3)
        else:
            for _ in range(args.warmup - 1):
                module(x)
            began = time.perf_counter()
            while len(samples) < args.iters and (
                    not samples or time.perf_counter() - began < args.budget):
                start = time.perf_counter()
                module(x)
                samples.append((time.perf_counter() - start) * 1e3)
    np.save(args.output, y.numpy())
    print(json.dumps({"median_ms": statistics.median(samples), "min_ms": min(samples),
                      "runs": len(samples), "cold": cold, "setup_ms": setup_ms,
                      "torch_version": torch.__version__}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "torch":
        print("usage: zoo_engines.py torch --model NAME --seed S --input X.npy --output Y.npy "
              "[--threads N] [--warmup N] [--iters N] [--budget SECONDS]", file=sys.stderr)
        sys.exit(2)
    sys.exit(torch_main(sys.argv[2:]))
