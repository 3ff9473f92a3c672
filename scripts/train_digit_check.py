#!/usr/bin/env python3
"""Thin wrapper: `python scripts/train_digit_check.py --help`. The work is in mnist_app/cli/train_digit_check.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mnist_app.cli.train_digit_check import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
