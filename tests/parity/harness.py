"""What the parity cases share (run_parity.py, zoo.py): running a command, exporting a
model with --randomize-bn --reference, and comparing an output with PyTorch's."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXPORT = os.path.join(ROOT, "loaders", "torch", "export.py")
RTOL = 1e-4
SEED = 7


class Failure(Exception):
    pass


# ctest -j runs several cases at once on few cores: OpenMP threads that spin while
# waiting would then slow everything down.
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    if p.returncode != 0:
        raise Failure(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n"
                      f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p.stdout


def export(source, out, shape, reference=True):
    cmd = [sys.executable, EXPORT, *source, "--out", out, "--seed", str(SEED), "--randomize-bn"]
    if shape:
        cmd += ["--input-shape", shape]
    if reference:
        cmd.append("--reference")
    run(cmd, "export")


def count_batchnorms(model_dir):
    with open(os.path.join(model_dir, "graph.json")) as f:
        return sum(1 for n in json.load(f)["nodes"] if n["op"] == "batchnorm")


def check_close(name, got_path, ref, label):
    import numpy as np
    got = np.load(got_path)
    if got.shape != ref.shape:
        raise Failure(f"{name} {label}: output shape {list(got.shape)}, PyTorch {list(ref.shape)}")
    diff = float(np.max(np.abs(got.astype(np.float64) - ref)))
    bound = RTOL * float(np.max(np.abs(ref)))
    print(f"  {label:8s} max|kiln - torch| = {diff:.3e}   (bound {bound:.3e})")
    if not diff <= bound:  # also catches NaN
        raise Failure(f"{name} {label}: max|kiln - torch| = {diff:.3e} > {RTOL} * max|torch| = {bound:.3e}")
