"""A real ``scripts/serve.py`` process (uvicorn) on a free 127.0.0.1 port, for the web tests.

    with running_server(collect_dir, cwd) as server:
        server.url          # "http://127.0.0.1:PORT/"
        server.token        # the per-run token the page carries
    server.returncode, server.stderr   # after Ctrl-C (SIGINT) at the end of the block
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE_SCRIPT = REPO_ROOT / "scripts" / "serve.py"
START_TIMEOUT = 30.0  # seconds: loading the 784-800-10 model and starting uvicorn takes ~1 s
STOP_TIMEOUT = 15.0


@dataclass
class Server:
    url: str = ""
    token: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    stderr: str = ""
    returncode: int | None = None


def shipped_model() -> Path:
    from mnist_app.models import shipped_path

    return shipped_path()


@contextlib.contextmanager
def running_server(collect_dir: Path, cwd: Path, *extra: str, env: dict | None = None) -> Iterator[Server]:
    """Start scripts/serve.py --port 0, wait for its URL line, stop it with SIGINT afterwards."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    cmd = [sys.executable, str(SERVE_SCRIPT), "--port", "0", "--collect", str(collect_dir),
           "--model", "shipped", *extra]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    server = Server()
    stderr_chunks: list[str] = []
    readers = [threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)]
    url_seen = threading.Event()

    def read_stdout() -> None:
        for line in proc.stdout:
            server.stdout_lines.append(line.rstrip("\n"))
            found = re.search(r"(http://\S+:\d+/)", line)
            if found and not server.url:
                server.url = found.group(1)
                url_seen.set()

    readers.append(threading.Thread(target=read_stdout, daemon=True))
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not url_seen.wait(0.1):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                for reader in readers:
                    reader.join(5)
                raise RuntimeError(f"serve.py did not start: {''.join(stderr_chunks)}{server.stdout_lines}")
        page = requests.get(server.url, timeout=10).text
        server.token = re.search(r'name="mnist-token" content="([^"]+)"', page).group(1)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in readers:
            reader.join(5)
        server.returncode = proc.returncode
        server.stderr = "".join(stderr_chunks)
