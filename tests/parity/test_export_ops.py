#!/usr/bin/env python3
"""Tests of the exporter's handlers (loaders/torch/torch2kiln/ops/), one PyTorch form
at a time: the Kiln ops and attributes written, and that graph.json, run by
graph_reference.py at another batch size than the export's, computes what PyTorch
computes. Exit 77 when PyTorch is missing (outside CI); see torch_or_skip.py."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_or_skip import require_torch  # noqa: E402

require_torch()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from exporter_testing import ExportTestCase, Lambda, export_and_run, ops  # noqa: E402

TOL = 1e-5


def fn(f, **children):
    """A module computing f(x) (children are its submodules, reachable as s.<name>)."""
    return Lambda(lambda s, x: f(x) if not children else f(s, x), **children)


class Case(ExportTestCase):
    def exports(self, module, shape, expected_ops, attrs=None):
        """Exports, checks the ops (and the last node's attrs) and the numbers."""
        graph, err = export_and_run(module, shape)
        self.assertEqual(ops(graph), expected_ops)
        if attrs is not None:
            self.assertEqual(graph["nodes"][-1]["attrs"], attrs)
        self.assertLess(err, TOL)
        return graph


class Activations(Case):
    def test_relu6_and_hardtanh_become_clamp(self):
        for m in (nn.ReLU6(), nn.ReLU6(inplace=True), fn(F.relu6), fn(lambda x: F.relu6(x, True))):
            self.exports(m, (2, 3, 4), ["clamp"], {"min": 0.0, "max": 6.0})
        for m in (nn.Hardtanh(-2, 0.5), fn(lambda x: F.hardtanh(x, -2.0, 0.5))):
            self.exports(m, (2, 5), ["clamp"], {"min": -2.0, "max": 0.5})

    def test_clamp_and_clip_keep_only_the_bounds_given(self):
        self.exports(fn(lambda x: torch.clamp(x, 0, 6)), (2, 4), ["clamp"], {"min": 0.0, "max": 6.0})
        self.exports(fn(lambda x: torch.clip(x, min=-1)), (2, 4), ["clamp"], {"min": -1.0})
        self.exports(fn(lambda x: x.clamp(max=0.5)), (2, 4), ["clamp"], {"max": 0.5})
        self.exports(fn(lambda x: (x * 2).clamp_(-0.5, 0.5)), (2, 4), ["mul", "clamp"])

    def test_clamp_without_bounds_or_with_tensor_bounds_is_refused(self):
        self.refuses(fn(lambda x: torch.clamp(x, min=x)), (2, 4), "min must be a number")
        self.refuses(fn(lambda x: torch.clamp(x, 2.0, 1.0)), (2, 4), "min <= max")

    def test_each_activation_without_attributes_as_module_function_and_method(self):
        forms = {
            "sigmoid": [nn.Sigmoid(), fn(torch.sigmoid), fn(lambda x: x.sigmoid()), fn(F.sigmoid)],
            "silu": [nn.SiLU(), nn.SiLU(inplace=True), fn(F.silu)],
            "hardswish": [nn.Hardswish(), fn(F.hardswish)],
            "hardsigmoid": [nn.Hardsigmoid(), fn(F.hardsigmoid)],
            "tanh": [nn.Tanh(), fn(torch.tanh), fn(lambda x: x.tanh()), fn(F.tanh)],
        }
        for op, modules in forms.items():
            for m in modules:
                with self.subTest(op=op, module=m):
                    self.exports(m, (2, 3, 5), [op], {})

    def test_gelu_keeps_its_approximation(self):
        for approximate in ("none", "tanh"):
            for m in (nn.GELU(approximate=approximate), fn(lambda x: F.gelu(x, approximate=approximate))):
                self.exports(m, (2, 7), ["gelu"], {"approximate": approximate})

    def test_leaky_relu_and_elu_keep_their_parameter(self):
        for m in (nn.LeakyReLU(0.2), fn(lambda x: F.leaky_relu(x, 0.2))):
            self.exports(m, (2, 7), ["leaky_relu"], {"negative_slope": 0.2})
        self.exports(nn.LeakyReLU(), (2, 7), ["leaky_relu"], {"negative_slope": 0.01})
        for m in (nn.ELU(alpha=0.5), fn(lambda x: F.elu(x, 0.5))):
            self.exports(m, (2, 7), ["elu"], {"alpha": 0.5})

    def test_an_inplace_activation_whose_input_is_read_afterwards_is_refused(self):
        self.refuses(fn(lambda s, x: F.hardswish(s.c(x), inplace=True) + s.c(x), c=nn.Identity()),
                     (2, 3), "in place")


class Arithmetic(Case):
    def test_numbers_become_parameters_of_shape_empty_on_either_side(self):
        g = self.exports(fn(lambda x: (3 - x * 0.5) / 6 + 1), (2, 3), ["mul", "sub", "div", "add"])
        params = {p["name"]: p["shape"] for p in g["params"]}
        self.assertEqual(params, {"mul.constant": [], "sub.constant": [], "truediv.constant": [],
                                  "add.constant": []})
        self.assertEqual(g["nodes"][1]["inputs"], ["sub.constant", "mul"])

    def test_a_gate_broadcasts_over_height_and_width(self):
        def se(s, x):
            return x * torch.sigmoid(s.fc(x.mean((2, 3), keepdim=True)))
        g = self.exports(fn(se, fc=nn.Conv2d(4, 4, 1)), (2, 4, 5, 3), ["mean", "conv2d", "sigmoid", "mul"])
        self.assertEqual(g["nodes"][-1]["inputs"], ["x", "sigmoid"])

    def test_torch_functions_methods_and_inplace_forms(self):
        self.exports(fn(lambda x: torch.mul(torch.add(x, 1), torch.sub(x, 2))), (2, 3),
                     ["add", "sub", "mul"])
        self.exports(fn(lambda x: torch.div(x.mul(3), 4).add_(x).sub_(1).div(x + 2)), (2, 3),
                     ["mul", "div", "add", "sub", "add", "div"])

        def inplace(s, x):
            y = x * 2
            y *= x
            y /= 3
            y -= 1
            return y
        self.exports(fn(inplace, c=nn.Identity()), (2, 3), ["mul", "mul", "div", "sub"])

    def test_alpha_rounding_and_batch_fixing_parameters_are_refused(self):
        self.refuses(fn(lambda x: torch.add(x, x, alpha=2)), (2, 3), "alpha=2")
        self.refuses(fn(lambda x: torch.div(x, 2, rounding_mode="floor")), (2, 3), "rounding_mode")
        m = fn(lambda s, x: x * s.w, c=nn.Identity())
        m.w = nn.Parameter(torch.rand(2, 3))
        self.refuses(m, (2, 3), "would fix the batch size")
        self.refuses(fn(lambda x: x + x[:, 0]), (3, 3), "align its batch dim")


class ModuleTensors(Case):
    def test_a_module_tensor_used_in_forward_is_a_parameter_named_by_its_path(self):
        m = fn(lambda s, x: s.block.scale * x, c=nn.Identity())
        m.block = nn.Module()
        m.block.scale = nn.Parameter(torch.rand(3, 1, 1))
        g = self.exports(m, (2, 3, 4, 4), ["mul"])
        self.assertEqual(g["nodes"][0]["inputs"], ["block.scale", "x"])
        self.assertEqual(g["params"], [{"name": "block.scale", "dtype": "float32", "shape": [3, 1, 1],
                                        "file": "weights/block.scale.npy"}])

    def test_a_computation_on_module_tensors_alone_is_done_at_export(self):
        m = fn(lambda s, x: x + (s.w * 2).view(1, 3, 1), c=nn.Identity())
        m.w = nn.Parameter(torch.rand(3))
        g = self.exports(m, (2, 3, 5), ["add"])
        self.assertEqual([p["shape"] for p in g["params"]], [[1, 3, 1]])

    def test_the_size_of_a_module_tensor_is_a_fixed_size(self):
        m = fn(lambda s, x: x.view(x.size(0), s.w.shape[0], -1), c=nn.Identity())
        m.w = nn.Parameter(torch.rand(4))
        self.exports(m, (2, 8, 3), ["reshape"], {"shape": [0, 4, 6]})

    def test_an_unused_integer_buffer_is_not_written_and_a_used_one_is_refused(self):
        m = fn(lambda s, x: x + s.w[s.idx], c=nn.Identity())
        m.w = nn.Parameter(torch.rand(4))
        m.register_buffer("idx", torch.tensor([3, 0, 1]))
        g = self.exports(m, (2, 3), ["add"])
        self.assertEqual([p["shape"] for p in g["params"]], [[3]])
        m2 = fn(lambda s, x: x * s.idx, c=nn.Identity())
        m2.register_buffer("idx", torch.tensor([3, 0, 1]))
        self.refuses(m2, (2, 3), "expected float32, got torch.int64")


class Identities(Case):
    def test_dropout_stochastic_depth_contiguous_and_identity_vanish(self):
        from torchvision.ops import StochasticDepth, stochastic_depth
        m = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout(), nn.AlphaDropout(), nn.Identity(),
                          StochasticDepth(0.2, "row"), fn(lambda x: F.dropout(x, 0.3, training=False)),
                          fn(lambda x: stochastic_depth(x, 0.5, "batch", False).contiguous()), nn.ReLU())
        g = self.exports(m, (2, 2, 3, 3), ["conv2d", "relu"])
        self.assertEqual(g["nodes"][1]["inputs"], ["0"])

    def test_dropout_in_training_mode_is_refused(self):
        self.refuses(fn(lambda x: F.dropout(x, 0.0, training=True)), (2, 3), "training=True")


class Pooling(Case):
    def test_functional_pools_keep_ceil_mode_and_count_include_pad(self):
        self.exports(fn(lambda x: F.avg_pool2d(x, 3, 2, ceil_mode=True)), (2, 3, 10, 9), ["avg_pool2d"],
                     {"kernel": [3, 3], "stride": [2, 2], "padding": [0, 0], "ceil_mode": 1,
                      "count_include_pad": 1})
        self.exports(fn(lambda x: F.avg_pool2d(x, (3, 2), padding=1, count_include_pad=False)),
                     (2, 3, 10, 9), ["avg_pool2d"],
                     {"kernel": [3, 2], "stride": [3, 2], "padding": [1, 1], "ceil_mode": 0,
                      "count_include_pad": 0})
        for m in (fn(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
                  fn(lambda x: torch.max_pool2d(x, 3, 2, 1, 1, True))):
            self.exports(m, (2, 3, 10, 9), ["max_pool2d"],
                         {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1],
                          "ceil_mode": 1})

    def test_adaptive_average_pooling_to_any_size_its_own_size_and_one(self):
        for m in (nn.AdaptiveAvgPool2d((3, 2)), fn(lambda x: F.adaptive_avg_pool2d(x, (3, 2)))):
            self.exports(nn.Sequential(m), (2, 3, 7, 5), ["adaptive_avg_pool2d"], {"output_size": [3, 2]})
        self.exports(nn.Sequential(nn.AdaptiveAvgPool2d((None, 2))), (2, 3, 7, 5), ["adaptive_avg_pool2d"],
                     {"output_size": [7, 2]})
        self.exports(nn.Sequential(nn.AdaptiveAvgPool2d((9, 4))), (2, 3, 4, 3), ["adaptive_avg_pool2d"])
        self.exports(fn(lambda x: F.adaptive_avg_pool2d(x, (1, 1))), (2, 3, 7, 5), ["global_avg_pool2d"])
        g = self.exports(nn.Sequential(nn.Conv2d(3, 3, 1), nn.AdaptiveAvgPool2d((7, 5)), nn.ReLU()),
                         (2, 3, 7, 5), ["conv2d", "relu"])
        self.assertEqual(g["nodes"][1]["inputs"], ["0"])

    def test_mean_over_dims_with_and_without_keepdim(self):
        self.exports(fn(lambda x: x.mean((2, 3), keepdim=True)), (2, 3, 4, 5), ["mean"],
                     {"dims": [2, 3], "keepdim": 1})
        self.exports(fn(lambda x: torch.mean(x, dim=[-1, 1])), (2, 3, 4, 5), ["mean"],
                     {"dims": [1, 3], "keepdim": 0})
        self.exports(fn(lambda x: x.mean(-1)), (2, 3, 4), ["mean"], {"dims": [2], "keepdim": 0})

    def test_a_mean_over_the_batch_or_everything_is_refused(self):
        self.refuses(fn(lambda x: x.mean(0)), (2, 3), "batch dim")
        self.refuses(fn(lambda x: x.mean()), (2, 3), "dims to average over")


class Layers(Case):
    def test_layer_norm_module_and_function_with_module_tensors(self):
        g = self.exports(nn.Sequential(nn.LayerNorm((4, 5), eps=1e-6)), (2, 3, 4, 5), ["layer_norm"],
                         {"normalized_shape": [4, 5], "eps": 1e-6})
        self.assertEqual(g["nodes"][0]["inputs"][1:], ["0.weight", "0.bias"])
        self.exports(nn.LayerNorm(5, elementwise_affine=False), (2, 3, 5), ["layer_norm"])
        m = fn(lambda s, x: F.layer_norm(x, (5,), s.w, s.b), c=nn.Identity())
        m.w, m.b = nn.Parameter(torch.rand(5) + 0.5), nn.Parameter(torch.rand(5))
        g = self.exports(m, (2, 3, 5), ["layer_norm"], {"normalized_shape": [5], "eps": 1e-5})
        self.assertEqual(g["nodes"][0]["inputs"], ["x", "w", "b"])

    def test_layer_norm_with_a_bias_alone_gets_a_weight_of_ones(self):
        m = fn(lambda s, x: F.layer_norm(x, (5,), bias=s.b), c=nn.Identity())
        m.b = nn.Parameter(torch.rand(5))
        g = self.exports(m, (2, 5), ["layer_norm"])
        self.assertEqual(g["nodes"][0]["inputs"], ["x", "layer_norm.weight", "b"])

    def test_layer_norm_over_the_batch_is_refused(self):
        self.refuses(fn(lambda x: F.layer_norm(x, (2, 3))), (2, 3), "without the batch dim")

    def test_torchvision_convnext_layernorm2d_traces_to_permutes_around_layer_norm(self):
        from torchvision.models.convnext import LayerNorm2d
        self.exports(nn.Sequential(LayerNorm2d(4)), (2, 4, 3, 5), ["permute", "layer_norm", "permute"])

    def test_linear_on_rank_3_and_4_and_the_functional_form(self):
        self.exports(nn.Sequential(nn.Linear(5, 2)), (2, 3, 4, 5), ["linear"])
        m = fn(lambda s, x: F.linear(x, s.w), c=nn.Identity())
        m.w = nn.Parameter(torch.rand(2, 5))
        g = self.exports(m, (2, 3, 5), ["linear"])
        self.assertEqual(g["nodes"][0]["inputs"], ["x", "w"])


class Shapes(Case):
    def test_cat_of_two_or_more_tensors_on_any_dim_but_the_batch(self):
        self.exports(fn(lambda x: torch.cat([x, x * 2, x + 1], dim=1)), (2, 3, 4), ["mul", "add", "concat"],
                     {"axis": 1})
        self.exports(fn(lambda x: torch.concat((x, x * 2), dim=-1)), (2, 3, 4), ["mul", "concat"], {"axis": 2})
        self.exports(fn(lambda x: torch.cat([x.relu()], 1)), (2, 3), ["relu"])
        self.refuses(fn(lambda x: torch.cat([x, x], 0)), (2, 3), "dim 0 would change the batch")

    def test_chunk_split_and_narrow_give_one_slice_per_piece(self):
        def pieces(x):
            a, b, c = torch.chunk(x, 3, dim=1)
            return a * b - c
        g = self.exports(fn(pieces), (2, 7, 2), ["slice", "slice", "slice", "mul", "sub"])
        self.assertEqual([n["attrs"] for n in g["nodes"] if n["op"] == "slice"],
                         [{"axis": 1, "start": 0, "end": 3}, {"axis": 1, "start": 3, "end": 6},
                          {"axis": 1, "start": 6, "end": 7}])
        g = self.exports(fn(lambda x: x.split([2, 3], dim=-1)[1] - x.narrow(2, 0, 3)), (2, 2, 5),
                         ["slice", "slice", "sub"])
        self.assertEqual(g["nodes"][1]["attrs"], {"axis": 2, "start": 0, "end": 3})

    def test_getitem_slices_integers_none_and_ellipsis(self):
        self.exports(fn(lambda x: x[:, 1:3, ..., -2:]), (2, 4, 3, 5), ["slice", "slice"])
        g = self.exports(fn(lambda x: x[:, 1]), (2, 4, 3), ["slice", "reshape"])
        self.assertEqual(g["nodes"][-1]["attrs"], {"shape": [0, 3]})
        self.exports(fn(lambda x: x[:, None, :, 2:]), (2, 4, 3), ["slice", "reshape"], {"shape": [0, 1, 4, 1]})
        self.exports(fn(lambda x: x[:, :].relu()), (2, 4), ["relu"])

    def test_getitem_on_the_batch_or_with_steps_is_refused(self):
        self.refuses(fn(lambda x: x[0]), (2, 4), "batch dim must be indexed with ':'")
        self.refuses(fn(lambda x: x[:1]), (1, 4), "batch dim must be indexed with ':'")
        self.refuses(fn(lambda x: x[:, ::2]), (2, 4), "step 1")
        self.refuses(fn(lambda x: x.chunk(2, 0)[0]), (2, 4), "dim 0 would change the batch")

    def test_permute_and_transpose_keep_the_batch_first(self):
        for m in (fn(lambda x: x.permute(0, 2, 3, 1)), fn(lambda x: torch.permute(x, (0, 2, 3, 1))),
                  fn(lambda x: x.permute([0, -2, -1, 1]))):
            self.exports(m, (2, 3, 4, 5), ["permute"], {"dims": [0, 2, 3, 1]})
        for m in (fn(lambda x: x.transpose(1, -1)), fn(lambda x: torch.transpose(x, 3, 1)),
                  fn(lambda x: x.swapaxes(1, 3))):
            self.exports(m, (2, 3, 4, 5), ["permute"], {"dims": [0, 3, 2, 1]})
        self.exports(fn(lambda x: x.permute(0, 1, 2).relu()), (2, 3, 4), ["relu"])
        self.refuses(fn(lambda x: x.transpose(0, 1)), (2, 3), "keep the batch dim first")

    def test_reshape_writes_0_for_the_batch_and_the_fixed_dims(self):
        def shuffle(x):
            n, c, h, w = x.size()
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        g = self.exports(fn(shuffle), (2, 6, 3, 4), ["reshape", "permute", "reshape"])
        self.assertEqual([n["attrs"] for n in g["nodes"]],
                         [{"shape": [0, 2, 3, 3, 4]}, {"dims": [0, 2, 1, 3, 4]}, {"shape": [0, 6, 3, 4]}])
        self.exports(fn(lambda x: x.reshape(-1, 3, 20)), (2, 6, 10), ["reshape"], {"shape": [0, 3, 20]})
        self.exports(fn(lambda x: x.reshape(x.shape[0], 5, -1)), (2, 6, 10), ["reshape"])
        self.exports(fn(lambda x: torch.reshape(x, (-1, 5, 12))), (2, 6, 10), ["reshape"])
        self.exports(fn(lambda x: x.unsqueeze(1).squeeze(2)), (2, 1, 4), ["reshape", "reshape"])
        self.exports(fn(lambda x: torch.flatten(x, 1, 2)), (2, 3, 4, 5), ["reshape"], {"shape": [0, 12, 5]})
        self.exports(fn(lambda x: x.view(x.size(0), -1)), (2, 3, 4), ["flatten"], {"start_dim": 1})
        self.exports(fn(lambda x: x.view(x.size()).relu()), (2, 3, 4), ["relu"])

    def test_reshapes_that_fix_or_move_the_batch_are_refused(self):
        self.refuses(fn(lambda x: x.view(2, -1)), (2, 3, 4), "dim 0 of the new shape")
        self.refuses(fn(lambda x: x.view(-1, 4)), (2, 3, 4), "dim 0 of the new shape")
        self.refuses(fn(lambda x: x.view(x.size(0) * 3, 4)), (2, 3, 4), "batch size")
        self.refuses(fn(lambda x: x.squeeze()), (2, 1, 4), "expected an integer dim")


if __name__ == "__main__":
    unittest.main(verbosity=1)
