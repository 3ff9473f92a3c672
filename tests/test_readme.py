"""README.md and .ci/run must agree: CI runs exactly the test command a new user is told to run."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    """The shell commands in README's first fenced block (the set-up section)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md has no fenced code block with the set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert "scripts/train.py" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_readmes_exact_test_command() -> None:
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _setup_commands()[1] in ci_lines


def test_every_option_the_readme_mentions_exists() -> None:
    """Each `--flag` written in README.md is accepted by at least one script (catches drift)."""
    import subprocess
    import sys

    helps = ""
    for script in ("download", "train", "predict", "evaluate", "plot", "benchmark"):
        done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / f"{script}.py"), "--help"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        helps += done.stdout
    known = set(re.findall(r"--[a-z][a-z0-9-]*", helps))
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", (REPO_ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(mentioned) > 20  # the README does document the options
    assert mentioned - known == set()
