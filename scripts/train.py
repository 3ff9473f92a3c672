#!/usr/bin/env python3
"""Thin wrapper: `python scripts/train.py --help`. The work is in mnist_app/cli/train.py."""

import sys

try:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

    from mnist_app.cli.train import main
except KeyboardInterrupt:  # Ctrl-C while starting up (importing numpy takes a while): quietly, like later
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
