"""mnist_app/cli/common.py: exit codes and one-line errors shared by every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interrupting import HAS_PROC_MAPS, interrupt_while_starting
from mnist_app.cli.common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, run
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


@pytest.mark.parametrize("script, args", [
    ("predict", ["x.png", "--show", ""]), ("evaluate", ["--images", ""]), ("plot", ["h.json", "-o", ""]),
    ("predict", [""]), ("predict", ["x.png", "--model", ""]), ("finetune", [""]), ("train", ["--model-dir", ""]),
    ("serve", ["--collect", ""]), ("serve", ["--model", ""]), ("plot", ["--weights", ""]), ("plot", [""]),
    ("download", ["--data-dir", ""]), ("merge_models", ["a.npz", "", "--out", "m.npz"]),
    ("measure_finetune", ["", "--data-dir", "d"]), ("measure_styles", ["--data-dir", "d", "--model", ""]),
])
def test_an_empty_output_or_folder_name_is_a_usage_error(script: str, args: list[str], tmp_path: Path) -> None:
    """``--show "$OUT"`` with OUT unset: predict drew nothing and said nothing, evaluate --images ""
    scored MNIST test instead of a folder, plot -o "" took the default name, each exiting 0. Later:
    `predict ""` and `finetune ""` read the current folder, `train --model-dir ""` wrote its run into
    it, `serve --collect ""` collected into it, `--model ""` was ".: is a directory", `--data-dir ""`
    was the default data folder, `plot --weights ""` "nothing to plot"."""
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / f"{script}.py"), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
    assert "empty name: give a file or folder name" in done.stderr.splitlines()[-1]
    assert not list(tmp_path.iterdir())


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


# Each command with arguments that do a little real work (or fail quickly) when not interrupted.
STARTING_COMMANDS = {
    "predict": ["digit.png"],
    "evaluate": ["--images", "digit.png"],
    "plot": ["--weights", "shipped"],
    "download": ["--no-default-mirrors", "--data-dir", "none"],
    "finetune": ["none"],
    "serve": ["--port", "0"],
    "benchmark": ["--help"],
    "train": ["--no-default-mirrors", "--data-dir", "none"],
}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC_MAPS, reason="needs /proc to see what a process has loaded")
@pytest.mark.parametrize("name", sorted(STARTING_COMMANDS))
def test_ctrl_c_while_any_command_starts_is_quiet(name: str, tmp_path: Path) -> None:
    """D22: Ctrl-C while a command imports numpy, Pillow, matplotlib... was a page of traceback for
    every command but train (`predict.py x.png` interrupted ~50-200 ms after start). Now each exits
    130 at once (cli.common.start), or finishes (0/1) if it was quicker than the signal; never a
    traceback. Also through ``python -m mnist_app``."""
    import signal

    from PIL import Image

    Image.new("L", (28, 28), 0).save(tmp_path / "digit.png")
    args = STARTING_COMMANDS[name]
    for delay in (0.0, 0.02, 0.05, 0.1):
        for command in ([sys.executable, str(REPO_ROOT / "scripts" / f"{name}.py"), *args],
                        [sys.executable, "-m", "mnist_app", name, *args]):
            done = interrupt_while_starting(command, tmp_path, delay)
            assert "Traceback" not in done.stderr, (command, delay, done.stderr)
            assert done.returncode in (EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED, -signal.SIGINT), (command, delay, done)


def _run_demo_command(main_body: str, then: str, path: Path | None = None) -> subprocess.CompletedProcess:
    """Run, in a fresh Python with start()'s Ctrl-C handler, a command whose main is ``main_body``
    and the lines ``then`` after it (``path`` goes on sys.path)."""
    program = (
        "import os, signal, sys\n"
        + (f"sys.path.insert(0, {str(path)!r})\n" if path else "")
        + "from mnist_app.cli import common\n"
        "signal.signal(signal.SIGINT, common._keyboard_interrupt)\n"
        "def main(argv):\n" + main_body + then
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)


def test_ctrl_c_inside_a_lazy_import_while_a_command_runs_exits_130_at_once(tmp_path: Path) -> None:
    """A command that imports a module late (scipy for photos, matplotlib for --show) and is
    interrupted inside that import exits 130 at once, keeping what it had printed, without
    raising a KeyboardInterrupt there: one raised inside importlib's own lock code was swallowed
    ("Exception ignored ... Traceback") and the command carried on. It still ends with the one
    "interrupted" line every interrupted command prints. That window is too narrow to hit on
    purpose, so a real process interrupts itself inside a real import's module body; the at-once
    path is the one that skips the exit handlers (a KeyboardInterrupt would have returned through
    run() and sys.exit, which runs them)."""
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(5)\n"
    )
    done = _run_demo_command(
        "    import atexit\n"
        "    atexit.register(print, 'exit handlers ran')\n"
        "    print('printed before the import')\n"
        "    import slow_module\n"
        "    print('carried on after the import')\n"
        "    return 0\n",
        "sys.exit(common.run('demo', main))\n",
        path=tmp_path,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        EXIT_INTERRUPTED, "printed before the import\n", "demo: error: interrupted\n")


def test_ctrl_c_in_a_from_import_of_a_loaded_module_is_a_keyboard_interrupt(tmp_path: Path) -> None:
    """``from scipy import ndimage`` inside a function runs importlib's ``_handle_fromlist`` on
    every call, long after scipy is loaded. A Ctrl-C landing there was taken for one inside an
    import: predict exited without its "interrupted" line (a rare CI failure). Nothing is loading
    there, so it is an ordinary KeyboardInterrupt that run() turns into "interrupted". The test
    lands the signal inside ``_handle_fromlist`` itself: a package whose ``__getattr__`` (called
    from there for a name it lacks) raises SIGINT."""
    package = tmp_path / "lazy_package"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import signal\n"
        "def __getattr__(name):\n"
        "    if name == 'late':\n"
        "        signal.raise_signal(signal.SIGINT)\n"
        "    raise AttributeError(name)\n"
    )
    (package / "late.py").write_text("")
    done = _run_demo_command(
        "    import lazy_package\n"
        "    from lazy_package import late\n"
        "    print('carried on after the import')\n"
        "    return 0\n",
        "sys.exit(common.run('demo', main))\n",
        path=tmp_path,
    )
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_INTERRUPTED, "", "demo: error: interrupted\n")


def test_ctrl_c_as_the_command_finishes_exits_130_quietly() -> None:
    """A Ctrl-C after the command's main has returned, while the process exits (scripts' `sys.exit
    (start(...))`, the `mnist-app` dispatcher's last lines), was a KeyboardInterrupt that nothing
    caught: a traceback. Seen under load as the start-up test's rare failure (predict on a blank
    image, `python -m mnist_app`: the signal landed in cli.main's `finally`). Now there is nothing
    left to save, so it exits 130 at once, keeping what the command printed."""
    done = _run_demo_command(
        "    print('the answer')\n"
        "    return 0\n",
        "status = common.run('demo', main)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "print('carried on after the command')\n"
        "sys.exit(status)\n",
    )
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_INTERRUPTED, "the answer\n", "")


def test_ctrl_c_outside_imports_is_still_a_keyboard_interrupt(capsys) -> None:
    """Outside an import, Ctrl-C stays a KeyboardInterrupt: train needs it to finish its epoch's
    writes and say where its last epoch is."""
    import signal

    from mnist_app.cli import common

    previous = signal.signal(signal.SIGINT, common._keyboard_interrupt)
    try:
        def main(argv):
            signal.raise_signal(signal.SIGINT)
            return 0
        assert run("demo", main) == EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == "demo: error: interrupted\n"


def test_every_command_script_starts_through_common_start() -> None:
    """A new scripts/X.py copied from an old wrapper would import its command before the early
    Ctrl-C handler is set (the D22 traceback again): every wrapper of a mnist_app.cli module
    sets the handler first and runs the command through cli.common.start."""
    for script in sorted((REPO_ROOT / "scripts").glob("*.py")):
        text = script.read_text()
        if "mnist_app.cli" not in text:
            continue  # a measuring script with its own main
        first_code = [line for line in text.splitlines() if line and not line.startswith(("#", '"""', "import"))]
        assert first_code[0].startswith("_signal.signal(_signal.SIGINT"), script.name
        assert f'start("{script.stem}")' in text and "from mnist_app.cli.common import start" in text, script.name


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(p.name for p in (REPO_ROOT / "scripts").glob("*.py")))
def test_every_script_has_help_with_examples(script: str) -> None:
    """Every scripts/*.py, the measuring ones too, answers --help with exit 0 and worked examples
    (bench_hostile_checkpoints, benchmark_serve, measure_finetune and measure_styles had none)."""
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), "--help"], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert (done.returncode, done.stderr) == (0, ""), done
    assert "\nexamples:\n" in done.stdout and f"scripts/{script}" in done.stdout.split("\nexamples:\n", 1)[1]


@pytest.mark.slow
def test_measuring_scripts_report_errors_like_the_commands(tmp_path: Path) -> None:
    """The measuring scripts with a main of their own say "PROG: error: ..." in one line, exit 1, as
    the commands do (measure_styles.py left out "error:")."""
    for script in ("measure_styles.py", "measure_finetune.py"):
        args = ["--data-dir", str(tmp_path)] + (["missing"] if script == "measure_finetune.py" else [])
        done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), *args], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 1 and done.stdout == "", done
        assert done.stderr.startswith(f"{script}: error: ") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("interrupted_import, entry", [
    ("mnist_app.cli.common", "from mnist_app.cli import main\nsys.exit(main(['predict', 'x.png']))\n"),
    ("mnist_app.cli", "import runpy\nsys.argv = ['mnist_app', 'predict', 'x.png']\n"
                      "runpy.run_module('mnist_app', run_name='__main__', alter_sys=True)\n"),
])
def test_ctrl_c_while_mnist_app_loads_its_command_exits_130_quietly(interrupted_import: str, entry: str) -> None:
    """`mnist-app predict` and `python -m mnist_app predict` have no script whose first line sets
    the exit-at-once handler: a Ctrl-C while the dispatcher imported cli.common, or while
    mnist_app/__main__.py imported the dispatcher (the first ~100 ms), was a KeyboardInterrupt
    traceback (seen in a sweep of signal times). Here the process signals itself as that import
    begins, which is too narrow a window to hit from outside on purpose."""
    program = (
        "import os, signal, sys\n"
        "class InterruptOnImport:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {interrupted_import!r}:\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, InterruptOnImport())\n" + entry
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_INTERRUPTED, "", ""), done
