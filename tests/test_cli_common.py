"""mnist_app/cli/common.py: exit codes and one-line errors shared by every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mnist_app.cli.common import EXIT_FAILURE, EXIT_INTERRUPTED, run
from mnist_app.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_expected_failure_is_one_line_on_stderr_and_exit_1(capsys) -> None:
    def main(argv):
        raise DataError("train-images-idx3-ubyte.gz: bad magic number 0x0000")

    assert run("demo.py", main, []) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err == "demo.py: error: train-images-idx3-ubyte.gz: bad magic number 0x0000\n"


def test_ctrl_c_exits_130_without_traceback(capsys) -> None:
    def main(argv):
        raise KeyboardInterrupt

    assert run("demo.py", main, []) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "demo.py: error: interrupted\n"


def test_broken_pipe_is_not_a_traceback() -> None:
    """`predict.py ... | head` closing the pipe early must not print a Python traceback."""
    script = (
        "import sys\n"
        "from mnist_app.cli.common import run\n"
        "def main(argv):\n"
        "    for i in range(200000): print('line', i)\n"
        "    return 0\n"
        "sys.exit(run('demo', main))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away after one line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_FAILURE
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_positive_int_rejects_zero_and_words_as_usage_errors() -> None:
    import argparse

    import pytest

    from mnist_app.cli.common import positive_int

    assert positive_int("3") == 3
    for bad in ("0", "-2", "three"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)
    for script, args in (("benchmark", ["--repeat", "0"]), ("plot", ["--count", "0", "h.json"]),
                         ("train", ["--epochs", "x"])):
        done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / f"{script}.py"), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "usage:" in done.stderr and "Traceback" not in done.stderr


def test_help_texts_have_no_markup_left_over() -> None:
    """benchmark --help began with a stray backtick (a docstring's ``code`` quoting)."""
    import contextlib
    import io

    import pytest

    from mnist_app.cli import COMMANDS

    for name in COMMANDS:
        module = __import__(f"mnist_app.cli.{name}", fromlist=["main"])
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            module.main(["--help"])
        assert "`" not in out.getvalue(), name
