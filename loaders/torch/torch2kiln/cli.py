"""The command line of loaders/torch/export.py (docs/EXPORT.md): build the module
(torchvision or FILE.py:CLASS), seed it, optionally randomise its BatchNorms,
export it, and optionally write a reference input and PyTorch's output for it
into the model directory with it."""

import argparse
import ast
import importlib.util
import os
import sys

import torch
import torch.nn as nn

from . import export
from .errors import ExportError


# torchvision builders' defaults that --torchvision changes: GoogLeNet's and Inception's
# auxiliary classifiers only train (eval never runs them), and their own init is slow.
TORCHVISION_ARGS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}
# Input shapes other than 1,3,224,224 for --torchvision without --input-shape.
TORCHVISION_INPUT_SHAPES = {"inception_v3": [1, 3, 299, 299]}


def build_torchvision(name, seed, model_args=None):
    """torchvision.models.<name>(weights=None, **args) with its random init seeded: no
    download. args: TORCHVISION_ARGS[name], updated by `model_args`."""
    import torchvision
    builder = getattr(torchvision.models, name, None)
    if name.startswith("_") or not callable(builder) or isinstance(builder, type):
        raise ExportError(f"--torchvision: unknown model '{name}' "
                          "(e.g. resnet18, resnet34, resnet50, vgg11, mobilenet_v2)")
    args = dict(TORCHVISION_ARGS.get(name, {}), **(model_args or {}))
    torch.manual_seed(seed)
    try:
        return builder(weights=None, **args)
    except (TypeError, ValueError) as e:
        raise ExportError(f"--torchvision {name}({args}): {type(e).__name__}: {e}") from e


def parse_model_arg(text):
    """KEY=VALUE, VALUE a Python literal (0.75, False, 'tanh') -> (key, value)."""
    key, sep, value = text.partition("=")
    try:
        if not sep or not key.isidentifier():
            raise ValueError
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise ExportError(f"--model-arg: expected KEY=VALUE with a Python literal value "
                          f"(width_mult=0.75), got '{text}'") from None


def build_from_file(spec, seed):
    """FILE.py:CLASS -> (CLASS(), CLASS.EXAMPLE_INPUT_SHAPE or None), seeded."""
    path, sep, cls_name = spec.rpartition(":")
    if not sep or not path or not cls_name:
        raise ExportError(f"--module: expected FILE.py:CLASS, got '{spec}'")
    if not os.path.isfile(path):
        raise ExportError(f"--module: no such file '{path}'")
    mod_spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path)
    py_module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(py_module)
    except Exception as e:
        raise ExportError(f"--module: importing '{path}' failed: {type(e).__name__}: {e}") from e
    cls = getattr(py_module, cls_name, None)
    if cls is None:
        raise ExportError(f"--module: '{path}' has no class '{cls_name}'")
    torch.manual_seed(seed)
    try:
        module = cls()
    except Exception as e:
        raise ExportError(f"--module: {cls_name}() failed: {type(e).__name__}: {e}") from e
    if not isinstance(module, nn.Module):
        raise ExportError(f"--module: {cls_name}() is not a torch.nn.Module")
    return module, getattr(cls, "EXAMPLE_INPUT_SHAPE", None)


def randomize_bn(module, seed):
    """Sets every BatchNorm's statistics and affine params to seeded random values away
    from the 0/1/1/0 defaults, under which a wrong fold can look right."""
    g = torch.Generator().manual_seed(seed + 1000)
    for m in module.modules():
        if not isinstance(m, nn.modules.batchnorm._BatchNorm):
            continue
        c = m.num_features

        def uniform(lo, hi):
            return lo + (hi - lo) * torch.rand(c, generator=g)

        with torch.no_grad():
            if m.running_mean is not None:
                m.running_mean.copy_(uniform(-0.5, 0.5))
                m.running_var.copy_(uniform(0.5, 2.0))
            if m.weight is not None:
                sign = torch.where(torch.rand(c, generator=g) < 0.2, -1.0, 1.0)
                m.weight.copy_(sign * uniform(0.5, 1.5))
                m.bias.copy_(uniform(-0.5, 0.5))


def reference_input(shape, seed):
    g = torch.Generator().manual_seed(seed + 2000)
    return torch.randn(*shape, generator=g)


def parse_shape(text):
    try:
        shape = [int(d) for d in text.split(",")]
    except ValueError:
        raise ExportError(f"--input-shape: expected comma-separated integers like 1,3,224,224, "
                          f"got '{text}'") from None
    if len(shape) < 2 or any(d <= 0 for d in shape):
        raise ExportError(f"--input-shape: expected at least 2 positive dims, got '{text}'")
    return shape


def parser():
    p = argparse.ArgumentParser(
        prog="export.py",
        description="Export a PyTorch module to a Kiln model directory (graph.json + "
                    "weights/*.npy). See docs/EXPORT.md.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--torchvision", metavar="NAME",
                     help="a torchvision.models builder, random init (no weight download)")
    src.add_argument("--module", metavar="FILE.py:CLASS",
                     help="a module class in a Python file, built as CLASS()")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="with --torchvision: a keyword argument of the builder, VALUE a Python "
                        "literal (e.g. width_mult=0.75); repeatable")
    p.add_argument("--out", required=True, metavar="DIR", help="the model directory to write")
    p.add_argument("--seed", type=int, default=0, help="seed for init, BN values, input (default 0)")
    p.add_argument("--input-shape", metavar="N,C,H,W",
                   help="example input shape (default: CLASS.EXAMPLE_INPUT_SHAPE, or "
                        "1,3,224,224 for --torchvision, 1,3,299,299 for inception_v3); "
                        "the batch dim stays free")
    p.add_argument("--randomize-bn", action="store_true",
                   help="set every BatchNorm's running_mean/var, weight, bias to seeded random values")
    p.add_argument("--reference", action="store_true",
                   help="also write DIR/input.npy (seeded random input) and DIR/output.npy "
                        "(PyTorch's eval output for it)")
    p.add_argument("--force", action="store_true",
                   help="replace DIR even if it is not a Kiln model directory (DIR is always "
                        "replaced whole, and left as it was if the export fails)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.model_arg and not args.torchvision:
            raise ExportError("--model-arg goes with --torchvision")
        if args.torchvision:
            model_args = dict(parse_model_arg(a) for a in args.model_arg)
            module = build_torchvision(args.torchvision, args.seed, model_args)
            default_shape = TORCHVISION_INPUT_SHAPES.get(args.torchvision, [1, 3, 224, 224])
        else:
            module, default_shape = build_from_file(args.module, args.seed)
        if args.input_shape:
            shape = parse_shape(args.input_shape)
        elif default_shape is not None:
            shape = list(default_shape)
        else:
            raise ExportError("--input-shape is required (the class has no EXAMPLE_INPUT_SHAPE)")
        if args.randomize_bn:
            randomize_bn(module, args.seed)
        x = reference_input(shape, args.seed)
        reference = None
        if args.reference:  # written with the model, in the same replacement of DIR
            module.eval()
            with torch.no_grad():
                y = module(x.clone())
            if not isinstance(y, torch.Tensor):
                raise ExportError("--reference: the module returns more than one tensor")
            reference = {"input.npy": x.numpy(), "output.npy": y.numpy()}
        graph = export(module, x, args.out, force=args.force, extra_arrays=reference)
    except (ExportError, OSError) as e:
        print(f"export.py: error: {e}", file=sys.stderr)
        return 1
    print(f"export.py: wrote {args.out}: {len(graph['nodes'])} nodes, {len(graph['params'])} params"
          + (", input.npy, output.npy" if args.reference else ""))
    return 0
