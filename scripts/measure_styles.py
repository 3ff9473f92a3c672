#!/usr/bin/env python3
"""Thin wrapper: `python scripts/measure_styles.py --help`. The work is in mnist_app/cli/measure_styles.py."""

import _signal  # the C half of `signal`, loaded with Python: no import during which Ctrl-C is a traceback
import os
import sys

# Ctrl-C while starting up (importing numpy takes a while) has nothing to save: leave at once,
# quietly, with the usual 130 (mnist_app.cli.common.start says when Ctrl-C becomes a normal interrupt).
_signal.signal(_signal.SIGINT, lambda signum, frame: os._exit(130))

from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mnist_app.cli.common import start  # noqa: E402

if __name__ == "__main__":
    sys.exit(start("measure_styles"))
