#!/usr/bin/env python3
"""Tests of bench/zoo_table.py, the script that writes README's model-zoo table: the
table and the README splice on their own, and one model end to end through the
exporter and engine-run (ResNet18 at 64x64, one run).

    test_zoo_table.py --engine-run PATH

Exit 77 when PyTorch is missing (outside CI); see torch_or_skip.py."""

import argparse
import importlib.util
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_or_skip import require_torch  # noqa: E402

require_torch()

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "zoo_table.py")
_spec = importlib.util.spec_from_file_location("zoo_table", SCRIPT)
zt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zt)
ENGINE_RUN = None


def row(**kw):
    r = {"model": "m", "input": "64x64", "ops": ["conv2d", "relu"], "bn": (3, 1),
         "errors": {"none": 1e-6, "bn": 2e-6, "all": 3e-6, "all+auto": 4e-6},
         "kiln_ms": 1.234, "torch_ms": 5.678}
    r.update(kw)
    return r


class Table(unittest.TestCase):
    def test_a_row_holds_ops_batchnorms_errors_and_times(self):
        lines = zt.table([row()]).splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[2], "| m | 64x64 | conv2d, relu | 3 → 1 | 1.0e-06 | 2.0e-06 | 3.0e-06 "
                                   "| 4.0e-06 | 1.23 | 5.68 |")
        self.assertEqual(lines[0].count("|"), lines[1].count("|"))

    def test_a_failed_model_shows_its_error_in_a_row_of_the_same_width(self):
        lines = zt.table([{"model": "m", "input": "64x64", "failed": "unknown op 'clamp'"}]).splitlines()
        self.assertIn("failed: unknown op 'clamp'", lines[2])
        self.assertEqual(lines[2].count("|"), lines[0].count("|"))

    def test_splice_replaces_only_what_lies_between_the_markers(self):
        text = f"intro\n{zt.BEGIN}\nold table\n{zt.END}\nrest\n"
        self.assertEqual(zt.splice(text, "new\n"), f"intro\n{zt.BEGIN}\nnew\n{zt.END}\nrest\n")
        with self.assertRaises(zt.Failed):
            zt.splice("no markers", "new\n")


class EndToEnd(unittest.TestCase):
    def test_resnet18_gets_a_full_row_and_the_readme_its_table(self):
        if ENGINE_RUN is None:
            self.skipTest("no --engine-run")
        with tempfile.TemporaryDirectory() as d:
            readme = os.path.join(d, "README.md")
            with open(readme, "w") as f:
                f.write(f"# x\n{zt.BEGIN}\n{zt.END}\n")
            code = zt.main(["--engine-run", ENGINE_RUN, "--models", "resnet18", "--size", "64",
                            "--iters", "1", "--warmup", "0", "--rounds", "1",
                            "--out", os.path.join(d, "zoo.md"), "--readme", readme])
            self.assertEqual(code, 0)
            with open(readme) as f:
                text = f.read()
        line = next(x for x in text.splitlines() if x.startswith("| resnet18 |"))
        cells = [c.strip() for c in line.split("|")[1:-1]]
        self.assertEqual(cells[1:4], ["64x64", "add, batchnorm, conv2d, flatten, global_avg_pool2d, "
                                      "linear, max_pool2d, relu", "20 → 0"])
        self.assertTrue(all(float(c) < 1e-4 for c in cells[4:8]), cells)
        self.assertTrue(all(float(c) > 0 for c in cells[8:10]), cells)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--engine-run")
    args, rest = p.parse_known_args()
    ENGINE_RUN = args.engine_run
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=1)
