#!/usr/bin/env python3
"""Tests of how the exporter traces and reports (loaders/torch/torch2kiln/trace.py,
builder.py, errors.py): the FX unpacking fix for Python 3.11, the cause named when a
trace fails, every unsupported op listed in one error, ops named as users write them;
and small members of torchvision's families traced end to end. Exit 77 when PyTorch
is missing (outside CI); see torch_or_skip.py."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_or_skip import require_torch  # noqa: E402

require_torch()

import torch  # noqa: E402
import torch.fx  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from exporter_testing import Lambda, export, export_and_run, export_error, kx, ops  # noqa: E402

TOL = 1e-5


class UnpackSizes(nn.Module):
    """The pattern torch 1.13's FX cannot trace on Python 3.11 (ShuffleNet's channel shuffle)."""

    def forward(self, x):
        n, c, h, w = x.size()
        hh, ww = x.shape[2:]
        return x.view(n, c * hh, ww).relu()


class IteratesOverTensor(nn.Module):
    def forward(self, x):
        total = x[:, 0]
        for row in x:  # FX cannot record a loop over a tensor's values
            total = total + row
        return total


class BranchesOnValues(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Tracing(unittest.TestCase):
    def test_unpacking_sizes_traces_and_exports(self):
        g, err = export_and_run(UnpackSizes(), (2, 3, 4, 5))
        self.assertEqual(ops(g), ["reshape", "relu"])
        self.assertEqual(g["nodes"][0]["attrs"], {"shape": [0, 12, 5]})
        self.assertLess(err, TOL)

    def test_stock_fx_fails_on_that_pattern_on_python_3_11_with_torch_1(self):
        if sys.version_info < (3, 11) or int(torch.__version__.split(".")[0]) >= 2:
            self.skipTest("the bug is torch 1.x's on Python >= 3.11")
        with self.assertRaises(Exception):
            torch.fx.symbolic_trace(UnpackSizes())

    def test_the_fix_is_local_to_the_exporter_tracer(self):
        before = torch.fx.Proxy.__iter__
        export(UnpackSizes(), (2, 3, 4, 5))
        self.assertIs(torch.fx.Proxy.__iter__, before)

    def test_a_loop_over_a_tensor_still_fails_naming_the_cause_and_the_line(self):
        e = export_error(IteratesOverTensor(), (2, 3))
        self.assertIn("torch.fx.symbolic_trace failed at", e)
        self.assertIn("test_export_trace.py", e)
        self.assertIn("for row in x", e)
        self.assertIn("cause: the model iterates over a traced tensor", e)
        self.assertNotIn("\n", e)

    def test_control_flow_on_tensor_values_names_the_cause(self):
        e = export_error(BranchesOnValues(), (2, 3))
        self.assertIn("cause: Python control flow", e)
        self.assertIn("if x.sum() > 0", e)


class Report(unittest.TestCase):
    def test_every_unsupported_op_is_listed_once_with_its_count_and_first_node(self):
        def fn(s, x):
            c = s.conv(x)
            y = torch.exp(c)                                  # unsupported, twice
            y = torch.exp(y) + F.softplus(y)                  # F.softplus is torch._C._nn.softplus
            y = s.soft(y)                                     # an unsupported module
            z = s.pad(c)                                      # refused: its padding_mode
            return (y + z).flatten(1) + c.view(2, -1)         # refused: view fixes the batch
        m = Lambda(fn, conv=nn.Conv2d(2, 2, 1), soft=nn.Softmax(dim=1),
                   pad=nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"))
        e = export_error(m, (2, 2, 4, 4))
        self.assertTrue(e.startswith("5 ops cannot be exported: torch.exp x2 (first: FX node 'exp' "
                                     "(call_function torch.exp): not supported"), e)
        for part in ("; F.softplus x1 (first: FX node 'softplus' (call_function F.softplus)",
                     "; nn.Softmax x1 (first: FX node 'soft' (call_module 'soft'): module type "
                     "torch.nn.modules.activation.Softmax is not supported)",
                     "; nn.Conv2d x1 (first: FX node 'pad' (call_module 'pad'): padding_mode 'reflect'",
                     "; Tensor.view x1 (first: FX node 'view'"):
            self.assertIn(part, e)
        self.assertNotIn("\n", e)

    def test_a_refusal_caused_by_an_unsupported_input_is_not_listed(self):
        e = export_error(Lambda(lambda s, x: torch.exp(x).view(2, -1)), (2, 3, 4))
        self.assertTrue(e.startswith("1 op cannot be exported: torch.exp x1"), e)
        self.assertNotIn("view", e)

    def test_functions_are_named_as_users_write_them(self):
        e = export_error(Lambda(lambda s, x: F.avg_pool2d(x, 2, divisor_override=3)), (1, 2, 4, 4))
        self.assertIn("F.avg_pool2d x1 (first: FX node 'avg_pool2d' (call_function F.avg_pool2d): "
                      "divisor_override=3", e)
        self.assertNotIn("torch._C", e)
        e = export_error(Lambda(lambda s, x: x * x.size(0)), (2, 3))
        self.assertIn("a * b x1", e)
        self.assertIn("batch size", e)

    def test_nothing_is_written_when_the_export_fails(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(kx.ExportError):
                kx.export(Lambda(lambda s, x: torch.exp(x)), torch.randn(1, 2), d)
            self.assertEqual(os.listdir(d), [])


class TorchvisionFamilies(unittest.TestCase):
    """Small members of the zoo's families, traced, exported and run through
    graph_reference at a batch other than the export's (the zoo itself runs in the
    parity.zoo.* cases)."""

    def check(self, module, shape, must_use):
        kx.randomize_bn(module, 0)
        g, err = export_and_run(module, shape)
        self.assertTrue(set(must_use) <= set(ops(g)), ops(g))
        self.assertTrue(set(ops(g)) <= set(kx.EMITTED_OPS))
        self.assertLess(err, TOL)

    def test_shufflenet_v2(self):
        from torchvision.models import ShuffleNetV2
        self.check(ShuffleNetV2([1, 2, 1], [8, 16, 32, 48, 64]), (1, 3, 48, 40),
                   ["reshape", "permute", "slice", "concat", "mean"])

    def test_convnext(self):
        from torchvision.models.convnext import CNBlockConfig, ConvNeXt
        self.check(ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 2)]), (1, 3, 40, 48),
                   ["permute", "layer_norm", "linear", "gelu", "mul"])

    def test_mobilenet_v3_and_efficientnet(self):
        import torchvision
        torch.manual_seed(0)
        self.check(torchvision.models.mobilenet_v3_small(width_mult=0.25), (1, 3, 40, 48),
                   ["hardswish", "hardsigmoid", "mul"])
        from torchvision.models.efficientnet import EfficientNet, MBConvConfig
        self.check(EfficientNet([MBConvConfig(1, 3, 1, 16, 8, 1), MBConvConfig(6, 5, 2, 8, 16, 2)], 0.2),
                   (1, 3, 40, 32), ["silu", "sigmoid", "mul"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
