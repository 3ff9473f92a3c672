"""``python -m mnist_app COMMAND ...``: the ``mnist-app`` command without its installed script."""

import sys

from mnist_app.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m mnist_app"))
