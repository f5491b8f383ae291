#!/usr/bin/env python3
"""Tests of loaders/torch/export.py on its own (no engine): what it writes, and that
everything it cannot represent is a clear error. Exit 77 when PyTorch is missing
(outside CI); see torch_or_skip.py."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_or_skip import require_torch  # noqa: E402

require_torch()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import models  # noqa: E402
from exporter_testing import EXPORT, ExportTestCase, Lambda, export, kx  # noqa: E402


def ops(graph):
    return [(n["name"], n["op"]) for n in graph["nodes"]]


class Writes(unittest.TestCase):
    def test_resnet18_uses_qualified_names_and_writes_every_param(self):
        import torchvision
        with tempfile.TemporaryDirectory() as d:
            g = kx.export(torchvision.models.resnet18(weights=None), torch.randn(1, 3, 64, 64), d)
            with open(os.path.join(d, "graph.json")) as f:
                text = f.read()
            self.assertEqual(json.loads(text), g)
            for p in g["params"]:
                a = np.load(os.path.join(d, p["file"]))
                self.assertEqual((list(a.shape), str(a.dtype)), (p["shape"], p["dtype"]))
                self.assertEqual(p["file"], f"weights/{p['name']}.npy")
        self.assertEqual(g["inputs"], [{"name": "x", "dtype": "float32", "shape": ["N", 3, 64, 64]}])
        self.assertEqual(g["outputs"], ["fc"])
        names = [n["name"] for n in g["nodes"]]
        all_names = names + [p["name"] for p in g["params"]] + ["x"]
        self.assertEqual(len(all_names), len(set(all_names)))
        self.assertIn("layer1.0.conv1", names)
        self.assertIn("layer1.0.relu_1", names)  # the block's ReLU module is called twice
        self.assertIn("layer2.0.downsample.1", names)
        self.assertIn("layer1.0.bn1.running_mean", all_names)
        self.assertTrue(set(n["op"] for n in g["nodes"]) <= set(kx.EMITTED_OPS))
        self.assertEqual(sum(n["op"] == "batchnorm" for n in g["nodes"]), 20)
        # eps must parse as a real: always written with a decimal point or exponent.
        self.assertRegex(text, r'"eps": 1e-05')
        self.assertNotRegex(text, r'"eps": \d+[,}]')

    def test_tutorial_finds_the_bns_in_the_sequential_and_the_wrapper(self):
        g = export(models.M(), (5, 1, 1, 1))
        self.assertEqual(ops(g), [("conv1", "conv2d"), ("bn1", "batchnorm"), ("conv2", "conv2d"),
                                  ("nested.0", "batchnorm"), ("nested.1", "conv2d"),
                                  ("wrapped.mod", "batchnorm")])
        self.assertEqual(g["nodes"][5]["inputs"], ["nested.1", "wrapped.mod.running_mean",
                                                   "wrapped.mod.running_var", "wrapped.mod.weight",
                                                   "wrapped.mod.bias"])

    def test_bn_without_affine_and_conv_without_bias_list_only_their_tensors(self):
        g = export(models.ConvNoBiasBnNoAffine(), (2, 3, 9, 11))
        self.assertEqual(g["nodes"][0]["inputs"], ["x", "conv.weight"])
        self.assertEqual(g["nodes"][1]["inputs"], ["conv", "bn.running_mean", "bn.running_var"])

    def test_dropout_and_identity_vanish_and_their_users_read_the_input(self):
        m = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout(0.5), nn.Identity(), nn.ReLU())
        g = export(m, (1, 2, 3, 3))
        self.assertEqual(ops(g), [("0", "conv2d"), ("3", "relu")])
        self.assertEqual(g["nodes"][1]["inputs"], ["0"])

    def test_flatten_patterns_become_flatten_from_dim_1(self):
        fns = [lambda s, x: x.view(x.size(0), -1), lambda s, x: x.reshape(x.shape[0], -1),
               lambda s, x: x.view(-1, 24), lambda s, x: torch.flatten(x, 1),
               lambda s, x: x.flatten(start_dim=1), lambda s, x: torch.reshape(x, (-1, 24))]
        for fn in fns:
            g = export(Lambda(lambda s, x: F.relu(fn(s, x))), (2, 2, 3, 4))
            self.assertEqual([n["op"] for n in g["nodes"]], ["flatten", "relu"])
            self.assertEqual(g["nodes"][0]["attrs"], {"start_dim": 1})

    def test_view_keeping_dim_1_is_a_flatten_from_dim_2(self):
        g = export(Lambda(lambda s, x: x.view(x.size(0), x.size(1), -1).relu()), (2, 2, 3, 4))
        self.assertEqual(g["nodes"][0]["attrs"], {"start_dim": 2})

    def test_same_padding_is_computed_and_pools_get_their_attributes(self):
        g = export(models.MiscOps(), models.MiscOps.EXAMPLE_INPUT_SHAPE)
        nodes = {n["name"]: n for n in g["nodes"]}
        self.assertEqual(nodes["block.body.0"]["attrs"]["padding"], [2, 2])  # k3, dilation 2
        self.assertEqual(nodes["pool"]["attrs"]["ceil_mode"], 1)
        self.assertEqual(nodes["avg"]["attrs"]["count_include_pad"], 0)
        self.assertEqual(nodes["gap"]["op"], "global_avg_pool2d")

    def test_dead_branches_are_not_exported(self):
        g = export(Lambda(lambda s, x: (s.unused(x), s.conv(x))[1],
                          unused=nn.Conv2d(2, 2, 1), conv=nn.Conv2d(2, 2, 1)), (1, 2, 3, 3))
        self.assertEqual(ops(g), [("conv", "conv2d")])
        self.assertEqual([p["name"] for p in g["params"]], ["conv.weight", "conv.bias"])


class Refuses(ExportTestCase):
    def test_an_unsupported_function_names_the_node_its_op_and_target(self):
        self.refuses(Lambda(lambda s, x: torch.exp(x)), (1, 2),
                     "FX node 'exp'", "call_function torch.exp", "not supported")

    def test_an_unsupported_method_names_the_node(self):
        self.refuses(Lambda(lambda s, x: x.cumsum(1)), (1, 2, 3),
                     "FX node 'cumsum'", "call_method Tensor.cumsum")

    def test_an_unsupported_module_names_its_qualified_name_and_type(self):
        self.refuses(nn.Sequential(nn.Sequential(nn.Softmax(dim=1))), (1, 2),
                     "nn.Softmax x1", "'0.0'", "call_module", "torch.nn.modules.activation.Softmax")
        self.refuses(nn.Sequential(nn.Conv1d(2, 2, 1)), (1, 2, 5), "Conv1d")

    def test_conv_padding_mode_other_than_zeros_is_refused(self):
        self.refuses(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")),
                     (1, 2, 5, 5), "padding_mode 'reflect'")

    def test_same_padding_that_pads_unevenly_is_refused(self):
        self.refuses(nn.Sequential(nn.Conv2d(2, 2, 4, padding="same")), (1, 2, 6, 6),
                     "padding='same'", "symmetrically")

    def test_batchnorm_without_running_stats_is_refused(self):
        self.refuses(nn.Sequential(nn.BatchNorm2d(2, track_running_stats=False)), (2, 2, 3, 3),
                     "track_running_stats=False")

    def test_batchnorm1d_on_3d_input_is_refused(self):
        self.refuses(nn.Sequential(nn.BatchNorm1d(2)), (2, 2, 5), "BatchNorm1d", "[2, 2, 5]")

    def test_flatten_over_the_batch_dim_is_refused(self):
        self.refuses(Lambda(lambda s, x: torch.flatten(x)), (2, 3), "batch dim")
        self.refuses(Lambda(lambda s, x: x.view(2, -1)), (2, 3, 4), "dim 0 of the new shape")
        self.refuses(Lambda(lambda s, x: x.view(-1, 4)), (2, 3, 4), "dim 0 of the new shape")

    def test_inplace_relu_whose_input_is_read_afterwards_is_refused(self):
        def fn(s, x):
            y = s.c(x)
            return torch.relu_(y) + y  # the add reads y after relu_ changed it
        self.refuses(Lambda(fn, c=nn.Conv2d(2, 2, 1)), (1, 2, 3, 3), "in place", "'add'")

    def test_inplace_relu_through_a_view_whose_base_is_read_afterwards_is_refused(self):
        def fn(s, x):
            y = s.c(x)
            y.view(y.size(0), -1).relu_()
            return y.flatten(1)
        self.refuses(Lambda(fn, c=nn.Conv2d(2, 2, 1)), (1, 2, 3, 3), "in place", "'flatten'")

    def test_inplace_relu_module_as_in_resnet_is_accepted(self):
        g = export(nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU(inplace=True)), (1, 2, 3, 3))
        self.assertEqual(ops(g), [("0", "conv2d"), ("1", "relu")])

    def test_iadd_on_a_tensor_used_elsewhere_is_refused(self):
        def fn(s, x):
            y = s.c(x)
            z = y
            y += x
            return y + z  # PyTorch: 2 (c(x) + x); FX's trace: (c(x) + x) + c(x)
        self.refuses(Lambda(fn, c=nn.Conv2d(2, 2, 1)), (1, 2, 3, 3), "FX trace computes")

    def test_a_second_input_is_refused(self):
        class Two(nn.Module):
            def forward(self, x, y):
                return x + y
        with self.assertRaises(kx.ExportError):
            export(Two(), (1, 2))

    def test_non_float32_input_is_refused(self):
        with tempfile.TemporaryDirectory() as d, self.assertRaises(kx.ExportError) as cm:
            kx.export(nn.ReLU(), torch.ones(1, 2, dtype=torch.float64), d)
        self.assertIn("float32", str(cm.exception))


class FindsItsPackage(unittest.TestCase):
    """export.py is a file beside its package torch2kiln/: run or imported by path, it
    must find the package whatever the working directory."""

    def run_in(self, cwd, *args):
        return subprocess.run([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_the_cli_runs_from_another_working_directory(self):
        with tempfile.TemporaryDirectory() as d:
            p = self.run_in(d, EXPORT, "--module", f"{HERE}/models.py:M", "--out", "model")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.isfile(os.path.join(d, "model", "graph.json")))

    def test_import_by_path_works_from_another_working_directory(self):
        # The recipe of Python's importlib docs, which also registers the module in
        # sys.modules under the name EXPORT.md uses.
        code = (f"import importlib.util, sys, torch\n"
                f"spec = importlib.util.spec_from_file_location('kiln_export', {EXPORT!r})\n"
                f"kx = importlib.util.module_from_spec(spec)\n"
                f"sys.modules['kiln_export'] = kx\n"
                f"spec.loader.exec_module(kx)\n"
                f"g = kx.export(torch.nn.Sequential(torch.nn.ReLU()), torch.randn(1, 2), 'model')\n"
                f"print(g['nodes'][0]['op'], len(kx.EMITTED_OPS))\n")
        with tempfile.TemporaryDirectory() as d:
            p = self.run_in(d, "-c", code)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.split(), ["relu", str(len(kx.EMITTED_OPS))])
            self.assertTrue(os.path.isfile(os.path.join(d, "model", "graph.json")))


class Cli(unittest.TestCase):
    def cli(self, *args):
        return subprocess.run([sys.executable, EXPORT, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_help_lists_the_options(self):
        p = self.cli("--help")
        self.assertEqual(p.returncode, 0)
        for opt in ("--torchvision", "--module", "--out", "--seed", "--randomize-bn", "--reference"):
            self.assertIn(opt, p.stdout)

    def test_bad_arguments_exit_non_zero_with_one_line(self):
        p = self.cli("--torchvision", "resnet18")  # no --out
        self.assertEqual(p.returncode, 2)
        p = self.cli("--torchvision", "no_such_net", "--out", "/tmp/never")
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown model 'no_such_net'", p.stderr)
        p = self.cli("--module", "/no/such.py:M", "--out", "/tmp/never")
        self.assertEqual((p.returncode, p.stderr.count("\n")), (1, 1))
        self.assertIn("no such file", p.stderr)

    def test_model_arg_passes_a_builder_argument(self):
        with tempfile.TemporaryDirectory() as d:
            p = self.cli("--torchvision", "mobilenet_v3_small", "--model-arg", "width_mult=0.5",
                         "--out", d, "--input-shape", "1,3,32,32")
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(f"{d}/graph.json") as f:
                params = {q["name"]: q["shape"] for q in json.load(f)["params"]}
            self.assertEqual(params["features.0.0.weight"], [8, 3, 3, 3])  # 16 channels x 0.5
        for args, message in ((["--model-arg", "width_mult"], "expected KEY=VALUE"),
                              (["--model-arg", "no_such=1"], "unexpected keyword argument 'no_such'")):
            p = self.cli("--torchvision", "resnet18", *args, "--out", "/tmp/never")
            self.assertEqual((p.returncode, p.stderr.count("\n")), (1, 1), p.stderr)
            self.assertIn(message, p.stderr)
        p = self.cli("--module", f"{HERE}/models.py:M", "--model-arg", "a=1", "--out", "/tmp/never")
        self.assertIn("--model-arg goes with --torchvision", p.stderr)

    def test_reference_writes_input_and_output_and_randomize_bn_moves_bn_values(self):
        with tempfile.TemporaryDirectory() as d:
            p = self.cli("--module", f"{HERE}/models.py:M", "--out", d, "--seed", "3",
                         "--randomize-bn", "--reference")
            self.assertEqual(p.returncode, 0, p.stderr)
            x, y = np.load(f"{d}/input.npy"), np.load(f"{d}/output.npy")
            self.assertEqual((x.shape, y.shape), ((5, 1, 1, 1), (5, 1, 1, 1)))
            # The reference is the module's eval output with the same init and BN values.
            torch.manual_seed(3)
            m = models.M()
            kx.randomize_bn(m, 3)
            with torch.no_grad():
                np.testing.assert_allclose(m.eval()(torch.from_numpy(x)).numpy(), y, rtol=1e-6)
            for name, default in (("running_mean", 0), ("running_var", 1), ("weight", 1), ("bias", 0)):
                a = np.load(f"{d}/weights/bn1.{name}.npy")
                self.assertGreater(abs(float(a[0]) - default), 1e-3, name)


if __name__ == "__main__":
    unittest.main(verbosity=1)
