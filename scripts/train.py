#!/usr/bin/env python3
"""Thin wrapper: `python scripts/train.py --help`. The work is in mnist_app/cli/train.py."""

import os
import signal
import sys

# Ctrl-C while starting up (importing numpy takes a while) has nothing to save: leave at once,
# quietly, with the usual 130. (A KeyboardInterrupt there could surface as numpy's ImportError.)
signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))

from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mnist_app.cli.train import main  # noqa: E402

signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C saves and says so

if __name__ == "__main__":
    sys.exit(main())
