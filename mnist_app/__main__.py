"""``python -m mnist_app COMMAND ...``: the ``mnist-app`` command without its installed script."""

import _signal  # the C half of `signal`, loaded with Python: no import during which Ctrl-C is a traceback
import os

# Ctrl-C while starting up has nothing to save: leave at once, quietly, with the usual 130, as the
# scripts' first line does (mnist_app.cli.common.start says when Ctrl-C becomes a normal interrupt).
_signal.signal(_signal.SIGINT, lambda signum, frame: os._exit(130))

import sys  # noqa: E402

from mnist_app.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="python -m mnist_app"))
