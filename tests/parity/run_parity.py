#!/usr/bin/env python3
"""Kiln against PyTorch, end to end, through the exporter and the engine-run CLI.

    run_parity.py --engine-run PATH CASE [CASE ...]     (or `all`)
    run_parity.py --list

For each parity case: export the model with --randomize-bn --reference into a
temp dir (DIR/input.npy, DIR/output.npy are PyTorch's), run
`engine-run DIR --input DIR/input.npy --output y.npy` unfused, with --fuse,
with --fuse=all, and with --fuse=all on oneDNN's and on Kiln's Winograd
convolutions (FUSED_VARIANTS),
and check max|kiln - torch| <= 1e-4 * max|torch| for each; check from
`--json` that the BN-folded graph kept exactly the BatchNorms that may not fold.

The cases zoo.NAME export torchvision's classification models at small inputs
and check every fuse level and --verify against PyTorch (zoo.py).

The case fold_vs_torch compares Kiln's folded ResNet18 weights (engine-run
--fuse --save) and torch.fx.experimental.optimization.fuse's against a fold
in float64, and asserts Kiln's error is no worse than twice PyTorch's.

Exit 0 pass, 1 fail, 77 skip (no PyTorch, outside CI; see torch_or_skip.py).
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

from harness import EXPORT, HERE, SEED, Failure, check_close, count_batchnorms, export, run
from zoo import ZOO, zoo_parity

MODELS = os.path.join(HERE, "models.py")
# The levels above the BN fold, each checked against PyTorch like the others:
# (label, engine-run flags).
FUSED_VARIANTS = [
    ("all", ["--fuse=all"]),
    ("all+wino", ["--fuse=all", "--conv-algo", "winograd"]),
    ("all+kwino", ["--fuse=all", "--conv-algo", "kiln-winograd"]),
]


def small(cls, bn_after=0):
    return {"source": ["--module", f"{MODELS}:{cls}"], "shape": None, "bn_after": bn_after}


def torchvision(name, shape):
    return {"source": ["--torchvision", name], "shape": shape, "bn_after": 0}


# Parity cases: exporter source, input shape (None: the class's EXAMPLE_INPUT_SHAPE),
# and how many BatchNorms the fused graph must keep (those whose folding is not allowed).
CASES = {
    "tutorial": small("M"),
    "conv_nobias_bn_noaffine": small("ConvNoBiasBnNoAffine"),
    "grouped_conv": small("GroupedConv"),
    "depthwise_conv": small("DepthwiseConv"),
    "conv_two_users": small("ConvTwoUsers", bn_after=1),
    "linear_bn1d": small("LinearBn1d"),
    "misc_ops": small("MiscOps"),
    "activations_after_convs": small("ActivationsAfterConvs"),
    "arithmetic_broadcast": small("ArithmeticBroadcast"),
    "cat_split": small("CatSplit"),
    "channel_shuffle": small("ChannelShuffle"),
    "pools_and_means": small("PoolsAndMeans"),
    "layer_norm_block": small("LayerNormBlock"),
    "resnet18": torchvision("resnet18", "2,3,224,224"),
    "resnet18_160x224": torchvision("resnet18", "2,3,160,224"),
    "resnet34": torchvision("resnet34", "1,3,224,224"),
    "resnet50": torchvision("resnet50", "1,3,224,224"),
}
SPECIAL = ["fold_vs_torch"]


def parity(name, case, engine_run, tmp):
    import numpy as np
    model = os.path.join(tmp, "model")
    export(case["source"], model, case["shape"])
    ref = np.load(os.path.join(model, "output.npy")).astype(np.float64)
    if not np.all(np.isfinite(ref)) or np.max(np.abs(ref)) == 0:
        raise Failure(f"{name}: PyTorch's reference output is zero or not finite")
    x = os.path.join(model, "input.npy")
    y, yf = os.path.join(tmp, "y.npy"), os.path.join(tmp, "y_fused.npy")
    print(f"  input {list(np.load(x).shape)}, output {list(ref.shape)}, "
          f"max|torch| = {np.max(np.abs(ref)):.3e}")

    run([engine_run, model, "--input", x, "--output", y], "engine-run (unfused)")
    check_close(name, y, ref, "unfused")
    out = run([engine_run, model, "--fuse", "--input", x, "--output", yf,
               "--json", "--iters", "1", "--warmup", "0"], "engine-run --fuse")
    check_close(name, yf, ref, "fused")

    report = json.loads(out.strip().splitlines()[-1])
    before, after = report.get("batchnorm_before"), report.get("batchnorm_after")
    print(f"  batchnorm {before} -> {after} (expected {count_batchnorms(model)} -> {case['bn_after']})")
    if before != count_batchnorms(model) or after != case["bn_after"]:
        raise Failure(f"{name}: batchnorm {before} -> {after} after --fuse, expected "
                      f"{count_batchnorms(model)} -> {case['bn_after']}")

    for label, flags in FUSED_VARIANTS:
        run([engine_run, model, *flags, "--input", x, "--output", yf],
            f"engine-run {' '.join(flags)}")
        check_close(name, yf, ref, label)


def load_exporter():
    spec = importlib.util.spec_from_file_location("kiln_export", EXPORT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fold64(w, b, mean, var, eps, gamma, beta):
    """The fold in float64: s = gamma / sqrt(var + eps), W' = W s, b' = (b - mean) s + beta."""
    import numpy as np
    s = gamma / np.sqrt(var + eps)
    return w * s.reshape(-1, *([1] * (w.ndim - 1))), (b - mean) * s + beta


def fold_vs_torch(engine_run, tmp):
    import numpy as np
    from torch.fx.experimental.optimization import fuse

    model, folded = os.path.join(tmp, "model"), os.path.join(tmp, "folded")
    export(["--torchvision", "resnet18"], model, "1,3,224,224", reference=False)
    run([engine_run, model, "--fuse", "--save", folded], "engine-run --fuse --save")

    # The same module, built in-process by the exporter's own functions.
    ex = load_exporter()
    module = ex.build_torchvision("resnet18", SEED)
    ex.randomize_bn(module, SEED)
    module.eval()
    torch_fused = fuse(module)

    def load(d, rel):
        return np.load(os.path.join(d, rel)).astype(np.float64)

    with open(os.path.join(model, "graph.json")) as f:
        g = json.load(f)
    with open(os.path.join(folded, "graph.json")) as f:
        gf = json.load(f)
    files = {p["name"]: p["file"] for p in g["params"]}
    files_f = {p["name"]: p["file"] for p in gf["params"]}
    nodes = {n["name"]: n for n in g["nodes"]}
    nodes_f = {n["name"]: n for n in gf["nodes"]}
    if any(n["op"] == "batchnorm" for n in gf["nodes"]):
        raise Failure("fold_vs_torch: the saved fused ResNet18 still has a batchnorm")

    err = {"kiln weight": 0.0, "torch weight": 0.0, "kiln bias": 0.0, "torch bias": 0.0}
    pairs = 0
    for bn in g["nodes"]:
        conv = nodes.get(bn["inputs"][0]) if bn["op"] == "batchnorm" else None
        if conv is None or conv["op"] != "conv2d":
            continue
        pairs += 1
        name = conv["name"]
        w = load(model, files[conv["inputs"][1]])
        torch_w = getattr(module.get_submodule(name), "weight").detach().numpy()
        if not np.array_equal(w, torch_w.astype(np.float64)):
            raise Failure(f"fold_vs_torch: '{name}' exported weights differ from the rebuilt module's")
        b = load(model, files[conv["inputs"][2]]) if len(conv["inputs"]) > 2 else 0.0
        mean, var, gamma, beta = (load(model, files[p]) for p in bn["inputs"][1:5])
        w64, b64 = fold64(w, b, mean, var, bn["attrs"].get("eps", 1e-5), gamma, beta)

        kc = nodes_f.get(name)
        if kc is None or len(kc["inputs"]) != 3:
            raise Failure(f"fold_vs_torch: folded model has no conv '{name}' with a bias")
        if kc["inputs"][1:] != [f"{name}.weight_folded", f"{name}.bias_folded"]:
            raise Failure(f"fold_vs_torch: folded conv '{name}' reads {kc['inputs'][1:]}, expected "
                          f"['{name}.weight_folded', '{name}.bias_folded']")
        kw, kb = load(folded, files_f[kc["inputs"][1]]), load(folded, files_f[kc["inputs"][2]])
        tc = torch_fused.get_submodule(name)
        tw, tb = tc.weight.detach().double().numpy(), tc.bias.detach().double().numpy()
        err["kiln weight"] = max(err["kiln weight"], float(np.max(np.abs(kw - w64))))
        err["torch weight"] = max(err["torch weight"], float(np.max(np.abs(tw - w64))))
        err["kiln bias"] = max(err["kiln bias"], float(np.max(np.abs(kb - b64))))
        err["torch bias"] = max(err["torch bias"], float(np.max(np.abs(tb - b64))))
    if pairs != 20:
        raise Failure(f"fold_vs_torch: found {pairs} conv -> batchnorm pairs in ResNet18, expected 20")
    print(f"  {pairs} folds; max error against the float64 fold:")
    for what in ("weight", "bias"):
        k, t = err[f"kiln {what}"], err[f"torch {what}"]
        print(f"  {what:6s}  kiln {k:.3e}   torch.fx fuse {t:.3e}")
        if not k <= 2 * t + 1e-7:
            raise Failure(f"fold_vs_torch: Kiln's folded {what} error {k:.3e} > 2 x torch's {t:.3e} + 1e-7")


def run_cases(doc, names, require, run_one):
    """The command line of a parity script: --list, or run `run_one(name, engine_run, tmp)`
    for each case named (or `all`) in a fresh temp dir (KEEP/name with --keep), after
    `require()` (which exits 77 when PyTorch is missing). Returns the exit code."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--engine-run", metavar="PATH", help="the engine-run binary")
    p.add_argument("--list", action="store_true", help="print the case names and exit")
    p.add_argument("--keep", metavar="DIR", help="keep the exported models under DIR")
    p.add_argument("cases", nargs="*", metavar="CASE", help="case names, or all")
    args = p.parse_args()
    if args.list:
        print(" ".join(names))
        return 0
    cases = names if args.cases == ["all"] else args.cases
    unknown = [c for c in cases if c not in names]
    if not cases or unknown:
        p.error(f"unknown case(s) {unknown}; known: {' '.join(names)}" if unknown else "no case given")
    if not args.engine_run or not os.access(args.engine_run, os.X_OK):
        p.error(f"--engine-run: not an executable: {args.engine_run!r}")
    require()

    failed = []
    for name in cases:
        print(f"parity {name}:", flush=True)
        start = time.time()
        tmp_ctx = tempfile.TemporaryDirectory(prefix=f"kiln_parity_{name}_")
        tmp = tmp_ctx.name
        if args.keep:
            tmp = os.path.join(args.keep, name)
            os.makedirs(tmp, exist_ok=True)
        try:
            run_one(name, args.engine_run, tmp)
            print(f"  PASS ({time.time() - start:.1f} s)", flush=True)
        except Failure as e:
            print(f"  FAIL: {e}", flush=True)
            failed.append(name)
        finally:
            tmp_ctx.cleanup()
    if failed:
        print(f"parity: {len(failed)} of {len(cases)} failed: {' '.join(failed)}")
        return 1
    return 0


def main():
    sys.path.insert(0, HERE)
    from torch_or_skip import require_torch

    def run_one(name, engine_run, tmp):
        if name == "fold_vs_torch":
            fold_vs_torch(engine_run, tmp)
        elif name.startswith("zoo."):
            zoo_parity(name[len("zoo."):], engine_run, tmp)
        else:
            parity(name, CASES[name], engine_run, tmp)

    return run_cases(__doc__, list(CASES) + [f"zoo.{n}" for n in ZOO] + SPECIAL, require_torch,
                     run_one)


if __name__ == "__main__":
    sys.exit(main())
