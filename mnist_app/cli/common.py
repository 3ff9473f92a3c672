"""Conventions shared by every command: exit codes, one-line errors, common options.

Exit 0 on success, 1 on failure (a MnistAppError: message on stderr, no traceback),
2 on usage errors (argparse's own behaviour), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from mnist_app.errors import MnistAppError
from mnist_app.imagefiles import printable  # standard library only: error() runs in signal handlers too

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Set by the ``mnist-app`` dispatcher to "mnist-app train" etc., so usage lines and errors name
# the command the user typed; None when a script (scripts/train.py) runs the command itself.
_invoked_as: str | None = None


def invoked_as(name: str | None) -> None:
    """Name the running command as the user typed it (``mnist-app predict``) in usage and errors."""
    global _invoked_as
    _invoked_as = name


def program_name(prog: str) -> str:
    """``prog`` (a script's name, e.g. "predict.py") unless the command was started another way."""
    return _invoked_as or prog


def sibling_command(prog: str, command: str) -> str:
    """How to run another ``command``, said the way ``prog`` was run (``mnist-app train`` ->
    ``mnist-app predict``; the script ``train.py`` -> ``python scripts/predict.py``)."""
    typed, own = program_name(prog), prog.removesuffix(".py")
    if typed.endswith(f" {own}"):
        return typed[: -len(own)] + command
    return f"python scripts/{command}.py"


def shell_word(path: str | os.PathLike) -> str:
    """``path`` as one word of a command line we suggest, quoted when it holds spaces or other
    characters the shell would split or expand, so the suggestion works when pasted."""
    return shlex.quote(str(path))


def one_blas_thread() -> None:
    """Let numpy's BLAS use one thread (unless the user chose otherwise); call before numpy loads.

    For work made of many small products (a request's 800x784 product, a mini-batch of 20):
    OpenBLAS's own threads gain nothing there and, when the CPU is busy, wait for each other.
    Measured on the loaded 2-core machine: serve's median predict 60 ms -> 7 ms
    (docs/serve.md), a 500-image fine-tune 269 s -> 51 s (docs/finetune.md).
    """
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def make_parser(prog: str, description: str, examples: str) -> argparse.ArgumentParser:
    """An ArgumentParser whose --help ends with worked examples."""
    return argparse.ArgumentParser(
        prog=program_name(prog),
        description=description,
        epilog="examples:\n" + examples.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir / --mirror / --quiet, used by every command that may fetch MNIST."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=nonempty_path,
        help="where the MNIST .gz files live (default: $MNIST_DATA_DIR, else a per-user cache dir)",
    )
    parser.add_argument(
        "--mirror",
        metavar="URL",
        action="append",
        default=[],
        type=mirror,
        help="extra MNIST mirror tried first: http(s)://, file:// or a local directory "
        "(repeatable; also $MNIST_MIRROR, comma-separated)",
    )
    parser.add_argument(
        "--no-default-mirrors",
        action="store_true",
        help="use only --mirror and $MNIST_MIRROR, never the built-in public mirrors (offline use)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def load_data(args: argparse.Namespace, *, quiet: bool | None = None):
    """MNIST as the data options in ``args`` ask (see add_data_options); downloads if needed."""
    from mnist_app.data import load_mnist

    return load_mnist(
        args.data_dir,
        args.mirror,
        quiet=args.quiet if quiet is None else quiet,
        use_default_mirrors=not args.no_default_mirrors,
    )


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """--model SPEC, for every command that classifies (names and default: mnist_app.models)."""
    from mnist_app.models import SPEC_HELP

    parser.add_argument("--model", metavar="NAME|PATH", type=nonempty_path, help=SPEC_HELP)


def add_suite_options(parser: argparse.ArgumentParser) -> None:
    """The options the measuring suites share (photo_suite, numbers_suite): where their source digits
    come from, the seed, where the images go, the model and --json."""
    parser.add_argument("--digits-dev", metavar="DIR", type=nonempty_path, required=True, help="folder of real digits with manifest.csv")
    parser.add_argument("--mnist", metavar="DIR", type=nonempty_path, required=True, help="folder with the MNIST t10k .gz files")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", metavar="DIR", type=nonempty_path, help="write the images here and keep them (default: a temporary folder)")
    add_model_option(parser)
    parser.add_argument("--json", action="store_true", help="one JSON report on stdout")


def nonempty_path(text: str) -> str:
    """argparse type for a file or folder name: an empty one (``--show "$OUT"`` with OUT unset)
    is a usage error (exit 2), not the option silently left out."""
    if not text:
        raise argparse.ArgumentTypeError("empty name: give a file or folder name")
    return text


def output_name(problem_of: Callable[[str], str | None]) -> Callable[[str], str]:
    """argparse type for the name of a file a command writes: not empty, and one ``problem_of``
    (e.g. mnist_app.plot.png_name_problem) has nothing against, else a usage error (exit 2)
    before any work is done."""
    def parse(text: str) -> str:
        problem = problem_of(nonempty_path(text))
        if problem:
            raise argparse.ArgumentTypeError(f"{text}: {problem}")
        return text
    return parse


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer from ``low`` to ``high`` (no upper bound if None); a bad value is
    a usage error (exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value
    return parse


positive_int = bounded_int(1)


def mirror(text: str) -> str:
    """argparse type: a usable --mirror (a malformed URL is a usage error, exit 2)."""
    from mnist_app.download import check_mirror, redact

    try:
        return check_mirror(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad mirror {redact(text)!r}: {exc}") from None


def error(prog: str, message: str) -> None:
    """Print one readable line on stderr (a file name with a newline or escapes stays one line)."""
    print(f"{program_name(prog)}: error: {printable(message)}", file=sys.stderr)


def start(command: str, argv: Sequence[str] | None = None) -> int:
    """Run ``mnist_app.cli.<command>``'s main, as scripts/<command>.py and ``mnist-app <command>`` do.

    What Ctrl-C does from here on is decided in one place, ``_keyboard_interrupt``: 130 at once
    while the command's modules load (numpy, Pillow, matplotlib: the first few hundred ms), a
    KeyboardInterrupt while the command runs, which it turns into "interrupted" after saving what
    it must (train keeps its last epoch). The scripts set an exit-at-once handler as their first
    line, before even this module is imported."""
    with contextlib.suppress(ValueError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, _keyboard_interrupt)
    return importlib.import_module(f"mnist_app.cli.{command}").main(argv)


_ctrl_c_pressed = False
_running_command: str | None = None  # the prog whose main run() is calling: the only place that catches a KeyboardInterrupt


def _keyboard_interrupt(signum, frame) -> None:
    """Ctrl-C as a KeyboardInterrupt while a command runs (inside ``run``) and outside an import;
    everywhere else it exits 130 at once, keeping what was printed.

    - Inside an import: commands import their heavy modules lazily (scipy for photos, matplotlib
      for --show), and a KeyboardInterrupt raised inside an import can be swallowed by the import
      machinery ("Exception ignored ... Traceback") and the command carries on, or turned into an
      ImportError with a page of advice (inside numpy's C initialisation). A command is still
      running then, so it says "interrupted" as its last line, as a KeyboardInterrupt would have.
    - Outside ``run``: before the command starts (its modules loading in ``start``) and after it
      has returned (the scripts' ``sys.exit``, the ``mnist-app`` dispatcher's last lines) nothing
      would catch it: a traceback.
    Neither place has anything to save."""
    global _ctrl_c_pressed
    _ctrl_c_pressed = True
    if _running_command is None:
        exit_at_once()
    if _inside_an_import(frame):
        error(_running_command, "interrupted")
        exit_at_once()
    raise KeyboardInterrupt


def exit_at_once() -> NoReturn:
    """End the process with 130 now, keeping what was printed: for a Ctrl-C where nothing is left
    to save and a KeyboardInterrupt would only be a traceback."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(EXIT_INTERRUPTED)


def _inside_an_import(frame) -> bool:
    """Whether the interrupted code runs under Python's import machinery (importlib's bootstrap)
    while it loads a module. ``_handle_fromlist`` alone is not loading: every ``from scipy import
    ndimage`` inside a function passes through it, also long after scipy is loaded, and a Ctrl-C
    landing there is an ordinary KeyboardInterrupt (if it does load a submodule, the loading frames
    are on the stack above it)."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib._bootstrap") and code.co_name != "_handle_fromlist":
            return True
        frame = frame.f_back
    return False


def run(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)`` and turn expected failures into exit codes without tracebacks."""
    global _running_command
    running_before = _running_command
    try:
        _running_command = prog
        try:
            return main(argv)
        finally:  # a Ctrl-C before this line still lands inside the outer try
            _running_command = running_before
    except MnistAppError as exc:
        error(prog, str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        error(prog, "interrupted")
        return EXIT_INTERRUPTED
    except ImportError:
        if not _ctrl_c_pressed:  # a real installation problem: its own advice is worth the page
            raise
        error(prog, "interrupted")  # Ctrl-C inside numpy's initialisation (see _keyboard_interrupt)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `predict.py ... | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except OSError as exc:
        # A path the user cannot reach, wherever it is first touched (Python 3.11's
        # Path.exists()/is_file()/is_dir() raise PermissionError inside a folder without search
        # permission, e.g. for --model, --data-dir, --model-dir): one line naming it.
        if exc.filename is None:
            raise
        error(prog, f"{exc.filename}: {exc.strerror or exc}")
        return EXIT_FAILURE
