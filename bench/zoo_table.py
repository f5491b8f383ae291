#!/usr/bin/python3
"""README's model-zoo table: each torchvision classification model exported and run by
Kiln, against PyTorch.

    /usr/bin/python3 bench/zoo_table.py [--engine-run build/engine-run] [--models a,b,...]
        [--size 224] [--threads 2] [--iters 20] [--warmup 3] [--rounds 3]
        [--out bench/results/zoo_table.md] [--readme README.md]

Per model (random init seeded, every BatchNorm randomised, batch 1, the model's own
input size: 224x224, Inception 299x299, or --size):

  ops              the Kiln ops of the exported graph.json, before any pass
  BN               BatchNorms before -> after the fold (engine-run --fuse=bn --json)
  error at L       max |kiln - torch| / max |torch| at --fuse=none, bn, all, and all
                   with --conv-algo auto
  Kiln ms          engine-run --fuse=all --conv-algo auto: median of --iters runs
  PyTorch ms       the nn.Module in eval mode under no_grad: median of --iters runs

The two timings alternate in --rounds rounds (Kiln's runs, then PyTorch's, and
again) with the same thread count; each is the median over its rounds' medians.
The machine may be shared: compare the ratio, not the milliseconds. The table goes
to stdout and --out; --readme replaces the table between the markers
<!-- zoo-table begin --> and <!-- zoo-table end --> in that file. A model that cannot
be exported or run gets its error in the table, the README is left as it was, and
the exit status is 1.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
ZOO = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "vgg11_bn", "alexnet",
       "squeezenet1_0", "densenet121", "googlenet", "inception_v3", "mobilenet_v2",
       "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet1_0", "shufflenet_v2_x1_0",
       "efficientnet_b0", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny"]
LEVELS = [("none", ["--fuse=none"]), ("bn", ["--fuse=bn"]), ("all", ["--fuse=all"]),
          ("all+auto", ["--fuse=all", "--conv-algo", "auto"])]
TIMED = ["--fuse=all", "--conv-algo", "auto"]
BEGIN, END = "<!-- zoo-table begin -->", "<!-- zoo-table end -->"
SEED = 0


class Failed(Exception):
    pass


def load_exporter():
    path = os.path.join(REPO, "loaders", "torch", "export.py")
    spec = importlib.util.spec_from_file_location("kiln_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def engine(engine_run, model_dir, flags, *extra):
    """Runs engine-run; returns its --json report."""
    cmd = [engine_run, model_dir, *flags, *extra, "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        lines = (p.stderr.strip() or p.stdout.strip() or "no output").splitlines()
        raise Failed(f"engine-run {' '.join(flags)}: {lines[-1]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def rel_error(got, ref):
    import numpy as np
    if got.shape != ref.shape:
        raise Failed(f"output shape {list(got.shape)}, PyTorch {list(ref.shape)}")
    return float(np.max(np.abs(got.astype(np.float64) - ref)) / np.max(np.abs(ref)))


def time_pytorch(module, x, warmup, iters):
    import torch
    with torch.no_grad():
        for _ in range(warmup):
            module(x)
        samples = []
        for _ in range(iters):
            start = time.perf_counter()
            module(x)
            samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def input_size(name, args, kx):
    return args.size or kx.TORCHVISION_INPUT_SHAPES.get(name, [1, 3, 224, 224])[2:]


def measure(name, args, kx, work):
    """One row: a dict with the table's columns."""
    import numpy as np
    import torch
    module = kx.build_torchvision(name, SEED)
    kx.randomize_bn(module, SEED)
    module.eval()
    size = input_size(name, args, kx)
    x = kx.reference_input([1, 3, *size], SEED)
    model = os.path.join(work, name)
    graph = kx.export(module, x, model)
    with torch.no_grad():
        ref = module(x).numpy().astype(np.float64)
    x_path, y_path = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(x_path, x.numpy())
    row = {"model": name, "input": f"{size[0]}x{size[1]}",
           "ops": sorted(set(n["op"] for n in graph["nodes"])), "errors": {}}
    for label, flags in LEVELS:
        report = engine(args.engine_run, model, flags, "--input", x_path, "--output", y_path)
        row["errors"][label] = rel_error(np.load(y_path), ref)
        if label == "bn":
            row["bn"] = (report["batchnorm_before"], report["batchnorm_after"])
    kiln_ms, torch_ms = [], []
    torch.set_num_threads(args.threads)
    for _ in range(args.rounds):
        report = engine(args.engine_run, model, TIMED, "--input", x_path, "--threads",
                        str(args.threads), "--iters", str(args.iters), "--warmup", str(args.warmup))
        kiln_ms.append(report["median_ms"])
        torch_ms.append(time_pytorch(module, x, args.warmup, args.iters))
    row["kiln_ms"], row["torch_ms"] = statistics.median(kiln_ms), statistics.median(torch_ms)
    return row


def table(rows):
    """The markdown table, one line per model; a failed model shows its error."""
    head = ("| model | input | ops | BN before → after | error none | bn | all | all + auto "
            "| Kiln ms | PyTorch ms |")
    lines = [head, "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['model']} | {r.get('input', '')} | failed: {r['failed']} "
                         "| | | | | | | |")
            continue
        errors = " | ".join(f"{r['errors'][label]:.1e}" for label, _ in LEVELS)
        lines.append(f"| {r['model']} | {r['input']} | {', '.join(r['ops'])} "
                     f"| {r['bn'][0]} → {r['bn'][1]} | {errors} "
                     f"| {r['kiln_ms']:.2f} | {r['torch_ms']:.2f} |")
    return "\n".join(lines) + "\n"


def splice(text, block, begin=BEGIN, end=END):
    """`text` with what lies between the `begin` and `end` markers replaced by `block`."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise Failed(f"no '{begin}' ... '{end}' markers to put the table between")
    return text[:start + len(begin)] + "\n" + block + text[stop:]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine-run", default=os.path.join(REPO, "build", "engine-run"))
    p.add_argument("--models", default=",".join(ZOO), help="comma-separated torchvision names")
    p.add_argument("--size", type=lambda s: [int(v) for v in s.split("x")] if "x" in s else [int(s)] * 2,
                   help="input H or HxW instead of each model's own (224, Inception 299)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=os.path.join(BENCH, "results", "zoo_table.md"))
    p.add_argument("--readme", help="replace the table between the zoo-table markers in this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.access(args.engine_run, os.X_OK):
        print(f"zoo_table.py: error: --engine-run: not an executable: {args.engine_run}", file=sys.stderr)
        return 1
    kx = load_exporter()
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kiln_zoo_") as work:
        for name in args.models.split(","):
            print(f"{name} ...", file=sys.stderr, flush=True)
            try:
                rows.append(measure(name, args, kx, work))
            except (Failed, kx.ExportError) as e:
                size = input_size(name, args, kx)
                rows.append({"model": name, "input": f"{size[0]}x{size[1]}",
                             "failed": str(e).replace("|", "/")})
    text = table(rows)
    note = (f"Batch 1, {args.threads} threads, median of {args.iters} runs, {args.rounds} rounds "
            f"alternating Kiln and PyTorch; 1-minute load average {load:.2f} before the runs.\n")
    print(text + "\n" + note)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n" + note)
    failed = any("failed" in r for r in rows)
    if args.readme and not failed:
        with open(args.readme) as f:
            readme = f.read()
        with open(args.readme, "w") as f:
            f.write(splice(readme, text + "\n" + note))
    if args.readme and failed:
        print(f"zoo_table.py: {args.readme} left as it was: a model failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
