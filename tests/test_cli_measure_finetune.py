"""scripts/measure_finetune.py (mnist_app/cli/measure_finetune.py): options checked before any
work, errors in one line, Ctrl-C through the common runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_app.cli import measure_finetune

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", [["--k", "0"], ["--k", "1", "-1"], ["--draws", "0"], ["--draws", "-2"]])
def test_counts_that_make_no_sense_are_usage_errors(option, tmp_path, capsys):
    """--k -1 and --draws 0 were numpy tracebacks ("negative dimensions are not allowed",
    "zero-size array to reduction"), --k 0 a table row measuring a fine-tune on no image."""
    with pytest.raises(SystemExit) as stopped:
        measure_finetune.main([str(tmp_path), "--data-dir", str(tmp_path), *option])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == ""
    assert err.splitlines()[-1] == (f"measure_finetune.py: error: argument {option[0]}: must be >= 1, "
                                    f"got {option[-1]}")


def test_a_group_no_image_is_in_is_one_line_before_any_work(digits_dev_dir, tmp_path, capsys):
    """--groups source=nothere was an IndexError traceback after the folder and MNIST were read;
    now it is named before either (there is no MNIST here at all)."""
    args = [str(digits_dev_dir), "--data-dir", str(tmp_path / "no-mnist"), "--groups", "source=usps",
            "source=nothere", "style=x"]
    assert measure_finetune.main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (f"measure_finetune.py: error: {digits_dev_dir}: no image of its manifest is in "
                                 "source=nothere, style=x\n")


@pytest.mark.slow
def test_ctrl_c_keeps_the_rows_printed_and_says_interrupted(digits_dev_dir, mnist_mirror_dir, tmp_path):
    """It had a twin of cli.common.run of its own: Ctrl-C exited 130 without a word (and a
    traceback while numpy loaded). Now the common runner: the rows printed stay, "interrupted", 130."""
    command = [sys.executable, str(REPO / "scripts" / "measure_finetune.py"), str(digits_dev_dir),
               "--data-dir", str(mnist_mirror_dir), "--k", "1", "--draws", "1", "--groups", "source=usps",
               "style=dark-on-white", "style=light-on-dark"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    printed = [proc.stdout.readline() for _ in range(4)]  # model line, table head, first row
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=300)
    assert printed[3].startswith("| source=usps | 1 | "), printed
    assert proc.returncode == 130 and err == "measure_finetune.py: error: interrupted\n", err
    assert "light-on-dark" not in rest
