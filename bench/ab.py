#!/usr/bin/python3
"""Two builds of engine-run, or two settings of one, on the same models, in turns.

    /usr/bin/python3 bench/ab.py --a OLD/engine-run --b NEW/engine-run --models DIR[,DIR...]
        [--batch 1 10] [--threads 2] [--rounds 5] [--iters 10] [--warmup 2]
        [--a-args='--fuse=all'] [--b-args='--fuse=all --conv-algo auto']

How a lever's before and after in bench/README are measured: each round runs A then
B (then B then A the next round, so that neither always goes first) on every model
and batch, each a fresh process timing --iters runs after --warmup; a round's figure
is engine-run's own median. Printed per model and batch: A's and B's median over the
rounds and the median of the per-round ratios B / A (below 1: B is faster), with
their range; the ratio of a pair taken a few seconds apart holds up far better than
either time on a busy machine. The CPU and the load average are printed too.
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys

from compare_pytorch import cpu_name

TIME = re.compile(r"^time\s+median ([0-9.]+) ms", re.M)


def fail(message):
    print(f"ab.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def median_ms(engine_run, extra, model, batch, args):
    cmd = [engine_run, model, "--batch", str(batch), "--threads", str(args.threads),
           "--iters", str(args.iters), "--warmup", str(args.warmup)] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = TIME.search(proc.stdout)
    if proc.returncode != 0 or not found:
        fail(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    return float(found.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", required=True, help="engine-run A (before)")
    p.add_argument("--b", required=True, help="engine-run B (after)")
    p.add_argument("--a-args", default="--fuse=all",
                   help="A's options, given as --a-args='...' (default --fuse=all)")
    p.add_argument("--b-args", default=None, help="B's options (default: A's)")
    p.add_argument("--models", required=True, help="model directories, .onnx files or built-in names, comma-separated")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 10])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    for exe in (args.a, args.b):
        if not os.access(exe, os.X_OK):
            fail(f"{exe}: not an executable")
    a_extra = shlex.split(args.a_args)
    b_extra = shlex.split(args.b_args) if args.b_args is not None else a_extra
    models = [m for m in args.models.split(",") if m]

    print(f"{cpu_name()}, {os.cpu_count()} CPUs, {args.threads} threads; load average "
          f"{os.getloadavg()[0]:.2f} before")
    print(f"A: {args.a} {' '.join(a_extra)}\nB: {args.b} {' '.join(b_extra)}")
    print(f"{args.rounds} rounds, each engine-run's median of {args.iters} runs after {args.warmup}\n")
    print("| model | batch | A ms | B ms | B / A (range) |")
    print("|---|---:|---:|---:|---|")
    for model in models:
        for batch in args.batch:
            a_ms, b_ms, ratios = [], [], []
            for r in range(args.rounds):
                order = [("a", args.a, a_extra), ("b", args.b, b_extra)]
                if r % 2:
                    order.reverse()
                got = {key: median_ms(exe, extra, model, batch, args) for key, exe, extra in order}
                a_ms.append(got["a"])
                b_ms.append(got["b"])
                ratios.append(got["b"] / got["a"])
            print(f"| {os.path.basename(model.rstrip('/'))} | {batch} | {statistics.median(a_ms):.2f} | "
                  f"{statistics.median(b_ms):.2f} | {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f} to {max(ratios):.2f}) |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
