#!/usr/bin/env python3
"""Export a PyTorch module to a Kiln model directory (format "kiln" v1, docs/FORMAT.md).

    python3 loaders/torch/export.py --torchvision resnet18 --out model/ [--seed S]
            [--input-shape N,C,H,W] [--randomize-bn] [--reference] [--force]
    python3 loaders/torch/export.py --module my_models.py:MyNet --out model/ ...

or, from Python (import this file by path, from any working directory):

    export(module, example_input, "model/")

The module is put in eval mode and traced with torch.fx.symbolic_trace, so convs
and BatchNorms hidden in nn.Sequential or wrapped in custom modules are found.
Every FX node is mapped to a Kiln op or refused with an error naming the node,
its op and its target: never a silently wrong graph. The model directory is
replaced whole, and left as it was if the export fails. See docs/EXPORT.md.

The work is done by the package torch2kiln/ beside this file; this file is its
entry point and keeps its names.
"""

import os
import sys

# Imported by path (importlib), this file's folder is not on sys.path: add it, at the
# end so that it shadows nothing the importing program has.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.append(_HERE)

from torch2kiln import ExportError, export  # noqa: E402,F401
from torch2kiln.cli import (build_from_file, build_torchvision, main,  # noqa: E402,F401
                            parse_model_arg, randomize_bn, reference_input,
                            TORCHVISION_INPUT_SHAPES)
from torch2kiln.op_table import EMITTED_OPS  # noqa: E402,F401
from torch2kiln.writer import FORMAT_VERSION  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
