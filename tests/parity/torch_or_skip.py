"""The parity tests need PyTorch (and the ONNX ones, the onnx package). Without
them they skip loudly (exit 77, ctest's SKIP_RETURN_CODE) — except in CI (env CI
set), where a missing module fails."""

import os
import sys

SKIP = 77


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(modules, packages):
    """Imports `modules`; on failure skips (or fails in CI) naming the Debian `packages`."""
    try:
        for m in modules:
            __import__(m)
    except ImportError as e:
        if in_ci():
            print(f"FAILED: the parity tests need {', '.join(modules)} in CI, and it cannot be imported: {e}",
                  file=sys.stderr)
            sys.exit(1)
        banner = "*" * 72
        print(f"{banner}\nSKIPPED: {e}.\n"
              f"Install {', '.join(packages)} (Debian) to run the parity tests.\n{banner}", file=sys.stderr)
        sys.exit(SKIP)


def require_torch():
    require(["numpy", "torch", "torchvision"], ["python3-torch", "python3-torchvision", "python3-numpy"])


def require_onnx():
    require_torch()
    require(["onnx"], ["python3-onnx"])
