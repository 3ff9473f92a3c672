"""Ctrl-C sent to a real process while it starts, as the start-up tests of every command need.

The signal is sent a given delay after numpy's code is mapped into the process (seen in
/proc/PID/maps), so the timing does not depend on how fast this machine starts Python: a Ctrl-C
while CPython itself starts is CPython's business.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path

HAS_PROC_MAPS = Path("/proc/self/maps").exists()


def interrupt_while_starting(command: list[str], cwd: Path, delay: float) -> subprocess.CompletedProcess:
    """Start ``command``, wait until numpy's code is mapped (or the process ended), wait ``delay`` s
    more and send SIGINT, as a Ctrl-C in a terminal would (the child starts with SIGINT's default
    action even when the tests run in the background, where it is ignored)."""
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 60  # generous: the machine may be busy
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        while proc.poll() is None and "numpy" not in maps.read_text(errors="replace"):
            assert time.monotonic() < deadline, f"numpy never loaded in {command}"
            time.sleep(0.001)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)
