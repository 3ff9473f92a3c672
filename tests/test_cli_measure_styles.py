"""scripts/measure_styles.py (mnist_app/cli/measure_styles.py) and mnist_app.augment.read_styles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from interrupting import HAS_PROC_MAPS, interrupt_while_starting
from mnist_app.cli import measure_styles

REPO = Path(__file__).resolve().parent.parent


def test_missing_mnist_is_one_line(tmp_path, capsys):
    assert measure_styles.main(["--data-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"measure_styles.py: error: MNIST not found in {tmp_path}") and err.count("\n") == 1


@pytest.mark.slow
def test_report_counts_each_style_on_mnist_test(mnist_mirror_dir, capsys):
    assert measure_styles.main(["--data-dir", str(mnist_mirror_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["shipped"]
    assert report["MNIST test"]["n"] == 10_000 and report["MNIST test"]["accuracy"] > 0.98
    assert report["1 plain"]["n"] == 1135 and report["4 plain"]["n"] == 982 and report["7 plain"]["n"] == 1028
    for name in ("1 flagged", "1 flagged+footed", "4 closed top", "7 crossed"):
        assert 0 < report[name]["n"] <= report[name[0] + " plain"]["n"] and 0.5 < report[name]["accuracy"] <= 1
        assert sum(report[name]["read_as"].values()) == round((1 - report[name]["accuracy"]) * report[name]["n"])


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC_MAPS, reason="needs /proc to see what a process has loaded")
def test_ctrl_c_is_interrupted_or_quiet_never_a_traceback(mnist_mirror_dir, tmp_path):
    """It caught Ctrl-C itself only around its measurement: while numpy loaded it was a traceback,
    and in the measurement a silent 130. Now the common runner (cli.common.start and run)."""
    command = [sys.executable, str(REPO / "scripts" / "measure_styles.py"), "--data-dir", str(mnist_mirror_dir),
               *["--model", "shipped"] * 8]  # seconds of measuring
    said = set()
    for delay in (0.0, 0.05, 2.0):
        done = interrupt_while_starting(command, tmp_path, delay)
        assert done.returncode == 130 and "Traceback" not in done.stderr, (delay, done.stderr)
        assert done.stderr in ("", "measure_styles.py: error: interrupted\n"), done.stderr
        said.add(done.stderr)
    assert "measure_styles.py: error: interrupted\n" in said  # 2 s in, it is measuring
