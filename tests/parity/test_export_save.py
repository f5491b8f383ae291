#!/usr/bin/env python3
"""How loaders/torch/export.py writes --out DIR over what is already there, with faults
injected for real: a file-size limit (RLIMIT_FSIZE), the immutable flag on the model
folder (chattr +i), a read-only bind mount in a private mount namespace, and SIGKILL
partway. After each, the old model directory holds exactly the files it held and
engine-run gives its old output bit for bit, and no temporary is left (after a kill:
none once the next export into DIR has run). A folder that is not a Kiln model is
refused unless --force; a model directory is replaced whole.

    test_export_save.py --engine-run PATH [unittest args]

Exit 77 when PyTorch is missing (outside CI); see torch_or_skip.py."""

import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "loaders", "torch", "export.py")
MODELS = os.path.join(HERE, "models.py")
sys.path.insert(0, HERE)
from torch_or_skip import require_torch  # noqa: E402

require_torch()

import torch  # noqa: E402

import models  # noqa: E402

_spec = importlib.util.spec_from_file_location("kiln_export", EXPORT)
kx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kx)

ENGINE_RUN = None  # set from --engine-run in __main__

# ResNet18 at a small input: the same 46.8 MB of weights (room for a fault partway),
# quick to trace. OTHER: a small model whose files differ from the tutorial's.
RESNET18 = ["--torchvision", "resnet18", "--input-shape", "1,3,32,32"]
OTHER = ["--module", f"{MODELS}:GroupedConv"]


def export_cmd(out, *source):
    return [sys.executable, EXPORT, *(source or ["--module", f"{MODELS}:M"]), "--out", out]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def snapshot(d):
    """Every regular file under d by relative path, with its bytes."""
    files = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, d)] = f.read()
    return files


def tree_bytes(d):
    """Bytes in the files under d while another process writes there."""
    total = 0
    for root, _, names in os.walk(d):
        for n in names:
            try:
                total += os.path.getsize(os.path.join(root, n))
            except OSError:  # gone under the walk
                pass
    return total


def engine_output(model):
    """engine-run MODEL on MODEL/input.npy: the output's NPY bytes."""
    with tempfile.TemporaryDirectory() as d:
        p = run([ENGINE_RUN, model, "--input", os.path.join(model, "input.npy"),
                 "--output", os.path.join(d, "y.npy")])
        if p.returncode != 0:
            return "engine-run failed: " + p.stderr
        with open(os.path.join(d, "y.npy"), "rb") as f:
            return f.read()


def set_immutable(path, on):
    """chattr +i / -i; False where it is missing or not allowed."""
    if shutil.which("chattr") is None:
        return False
    return run(["chattr", "+i" if on else "-i", path]).returncode == 0


def on_read_only_mount(folder, cmd):
    """cmd with `folder` bind-mounted read-only in a private mount namespace; None where
    unshare(1) cannot make one."""
    if shutil.which("unshare") is None or run(["unshare", "--mount", "true"]).returncode != 0:
        return None
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, folder, *cmd])


def with_file_size_limit(limit, cmd):
    def limit_child():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return run(cmd, preexec_fn=limit_child)


def killed_after(nbytes, watch, cmd):
    """Starts cmd and SIGKILLs it once the files under `watch` grew by nbytes."""
    start = tree_bytes(watch)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while p.poll() is None:
        if tree_bytes(watch) >= start + nbytes:
            p.kill()
            break
        time.sleep(0.0002)
    return p.wait()


class Faults(unittest.TestCase):
    """Each test starts from the tutorial model exported with --reference as PARENT/model."""

    def setUp(self):
        self.parent = tempfile.mkdtemp(prefix="kiln-export-fault-")
        self.model = os.path.join(self.parent, "model")
        p = run(export_cmd(self.model) + ["--randomize-bn", "--reference"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.files = snapshot(self.model)
        self.y = engine_output(self.model)
        self.assertIsInstance(self.y, bytes, self.y)

    def tearDown(self):
        shutil.rmtree(self.parent, ignore_errors=True)

    def assert_old_model_whole(self):
        self.assertEqual(snapshot(self.model), self.files)
        self.assertEqual(engine_output(self.model), self.y)

    def assert_no_temporaries(self):
        self.assertEqual(os.listdir(self.parent), ["model"])

    def assert_refused(self, p, message):
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertIn(message, p.stderr)

    def test_a_file_size_limit_stops_the_write_partway_and_the_old_model_stays(self):
        p = with_file_size_limit(1 << 20, export_cmd(self.model, *RESNET18))
        self.assert_refused(p, "File too large")
        self.assert_old_model_whole()
        self.assert_no_temporaries()

    def test_an_immutable_model_folder_is_left_as_it_was(self):
        weights = os.path.join(self.model, "weights")
        if not (set_immutable(weights, True) and set_immutable(self.model, True)):
            set_immutable(weights, False)
            self.skipTest("chattr +i is not possible here (needs CAP_LINUX_IMMUTABLE)")
        try:  # ResNet18 shares the tutorial's first file names (conv1.weight, bn1.*)
            p = run(export_cmd(self.model, *RESNET18))
        finally:
            set_immutable(self.model, False)
            set_immutable(weights, False)
        self.assert_refused(p, "Operation not permitted")
        self.assert_old_model_whole()
        self.assert_no_temporaries()

    def test_a_read_only_parent_folder_is_left_as_it_was(self):
        p = on_read_only_mount(self.parent, export_cmd(self.model, *OTHER))
        if p is None:
            self.skipTest("unshare --mount is not possible here")
        self.assert_refused(p, "Read-only file system")
        self.assert_old_model_whole()
        self.assert_no_temporaries()

    def test_a_kill_at_any_point_leaves_the_old_model_and_the_next_export_cleans_up(self):
        for nbytes in (1, 1 << 20, 16 << 20, 32 << 20):
            with self.subTest(killed_after_bytes=nbytes):
                code = killed_after(nbytes, self.parent, export_cmd(self.model, *RESNET18))
                self.assertEqual(code, -signal.SIGKILL)
                self.assert_old_model_whole()
                p = run(export_cmd(self.model) + ["--randomize-bn", "--reference"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assert_old_model_whole()
                self.assert_no_temporaries()


class Replaces(unittest.TestCase):
    def setUp(self):
        self.parent = tempfile.mkdtemp(prefix="kiln-export-save-")
        self.dir = os.path.join(self.parent, "mine")
        os.mkdir(self.dir)
        with open(os.path.join(self.dir, "graph.json"), "w") as f:
            json.dump({"format": "onnx"}, f)
        with open(os.path.join(self.dir, "notes.txt"), "w") as f:
            f.write("my notes\n")

    def tearDown(self):
        shutil.rmtree(self.parent, ignore_errors=True)

    def test_a_folder_that_is_not_a_kiln_model_is_refused_naming_what_it_holds(self):
        before = snapshot(self.dir)
        p = run(export_cmd(self.dir))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, f"export.py: error: {self.dir}: not a Kiln model directory "
                                   "(holds graph.json of another format, notes.txt); "
                                   "pass --force to replace it\n")
        self.assertEqual(snapshot(self.dir), before)
        with self.assertRaisesRegex(kx.ExportError, "not a Kiln model directory"):
            kx.export(models.M(), torch.randn(5, 1, 1, 1), self.dir)
        self.assertEqual(snapshot(self.dir), before)

    def test_force_replaces_it_whole(self):
        p = run(export_cmd(self.dir) + ["--force", "--reference"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["graph.json", "input.npy", "output.npy",
                                                        "weights"])
        self.assertEqual(os.listdir(self.parent), ["mine"])

    def test_a_model_directory_is_replaced_whole_without_stale_weights(self):
        model = os.path.join(self.parent, "model")
        self.assertEqual(run(export_cmd(model, *OTHER) + ["--reference"]).returncode, 0)
        g = kx.export(models.M(), torch.randn(5, 1, 1, 1), model)
        self.assertEqual(sorted(os.listdir(model)), ["graph.json", "weights"])
        self.assertEqual(sorted(os.listdir(os.path.join(model, "weights"))),
                         sorted(f"{p['name']}.npy" for p in g["params"]))
        self.assertEqual(sorted(os.listdir(self.parent)), ["mine", "model"])

    def test_help_lists_force(self):
        self.assertIn("--force", run([sys.executable, EXPORT, "--help"]).stdout)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "--engine-run":
        sys.exit("usage: test_export_save.py --engine-run PATH [unittest args]")
    ENGINE_RUN = args[1]
    unittest.main(argv=[sys.argv[0], *args[2:]], verbosity=2)
