"""The parity tests need PyTorch. Without it they skip loudly (exit 77, ctest's
SKIP_RETURN_CODE) — except in CI (env CI set), where a missing PyTorch fails."""

import os
import sys

SKIP = 77


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require_torch():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        if in_ci():
            print(f"FAILED: the parity tests need PyTorch in CI, and it cannot be imported: {e}",
                  file=sys.stderr)
            sys.exit(1)
        banner = "*" * 72
        print(f"{banner}\nSKIPPED: PyTorch cannot be imported ({e}).\n"
              "Install python3-torch, python3-torchvision and python3-numpy (Debian) to run "
              f"the parity tests.\n{banner}", file=sys.stderr)
        sys.exit(SKIP)
