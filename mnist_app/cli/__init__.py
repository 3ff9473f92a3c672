"""The ``mnist-app`` command: one subcommand per script in scripts/.

    mnist-app download | train | predict | evaluate | plot | benchmark | serve | finetune [options]
    mnist-app --version
    python -m mnist_app ...   (the same, without the installed script)

Each subcommand lives in its own module (mnist_app/cli/<name>.py) with a ``main(argv)``;
modules are imported only when their subcommand runs, so start-up stays light.
"""

from __future__ import annotations

import _signal
import os
import sys
from collections.abc import Sequence

COMMANDS = {
    "download": "fetch and verify the four MNIST files",
    "train": "train a sigmoid network with mini-batch SGD",
    "predict": "classify your own digit images",
    "evaluate": "accuracy and confusion matrix on MNIST test or a folder of images",
    "plot": "plot training histories and model diagnostics",
    "benchmark": "time one textbook epoch against a per-example implementation",
    "serve": "draw, upload and teach digits in the web browser",
    "finetune": "teach the network your own handwriting (models/personal.npz)",
}


def main(argv: Sequence[str] | None = None, prog: str = "mnist-app") -> int:
    # Ctrl-C before cli.common.start takes over (while cli.common loads) has nothing to save: exit
    # at once, quietly, as each script's first line has it. _signal (the C half of signal) is loaded
    # with Python, so setting this costs no import during which Ctrl-C would be a traceback.
    try:
        _signal.signal(_signal.SIGINT, lambda signum, frame: os._exit(130))
    except ValueError:  # not the main thread
        pass
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        out = sys.stdout if args else sys.stderr  # no command is a usage error: stdout stays for results
        print(f"usage: {prog} COMMAND [options]\n       {prog} --version\n\ncommands:", file=out)
        for name, summary in COMMANDS.items():
            print(f"  {name:<10} {summary}", file=out)
        print(f"\nRun '{prog} COMMAND --help' for the options of one command.", file=out)
        return 0 if args else 2
    if args[0] == "--version":
        from mnist_app import __version__

        print(f"mnist_app {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"{prog}: error: unknown command {name!r} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    from mnist_app.cli import common

    common.invoked_as(f"{prog} {name}")
    try:
        return common.start(name, rest)
    finally:
        common.invoked_as(None)
