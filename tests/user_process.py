"""Run a script as an ordinary user would, even when the tests run as root.

Root reads and searches every folder whatever its mode, so ``chmod 000 dir`` cannot show what a
user meets. The child process here drops the two capabilities that let root do that
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from its bounding set before it starts, so it is
still uid 0 (the interpreter under /root stays reachable) but is refused by ``chmod 000`` like
anyone else. As a normal user nothing needs dropping. :func:`locked_folder` gives a folder the
child cannot search, or skips the test when neither way works on this machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child (after fork) only calls into it


def _drop_root_file_powers() -> None:  # runs in the child between fork and exec
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_as_user(args: list[str], *, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python scripts/<args[0]> args[1:]`` as an ordinary user (see the module docstring)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLCONFIGDIR": str(cwd / ".mpl")}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / args[0]), *args[1:]],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        preexec_fn=_drop_root_file_powers if os.geteuid() == 0 else None,
    )


@contextlib.contextmanager
def locked_folder(path: Path) -> Iterator[Path]:
    """``chmod 000 path`` for the duration; skip if an ordinary-user child could still list it."""
    path.chmod(0o000)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import os, sys; os.listdir(sys.argv[1])", str(path)],
            capture_output=True, preexec_fn=_drop_root_file_powers if os.geteuid() == 0 else None,
        )
        if probe.returncode == 0:
            pytest.skip("cannot act as an ordinary user here: a chmod 000 folder stays readable")
        yield path
    finally:
        path.chmod(0o755)
