"""A small, scriptable HTTP mirror on 127.0.0.1 for downloader tests (no mocks: real sockets).

    with http_mirror({"a.gz": data}) as mirror:
        mirror.url                      # "http://127.0.0.1:PORT/"
        mirror.behave("a.gz", "404")    # how this file is served from now on
        mirror.requests                 # [(path, range_header_or_None), ...] received so far

Behaviours (per file, default "ok"):
    ok         200 with the bytes, or 206 with Content-Range for a ``Range: bytes=N-`` request
    no-range   always 200 with the whole file (a server without Range support)
    404        404 Not Found
    500        500 Internal Server Error
    wrong      200 with the same number of bytes, but different ones (checksum mismatch)
    drop       announce the full Content-Length, send half of the body, close the connection
    drop-once  like "drop" for the first request of that file, then like "ok"
    slow       like "ok", but the body goes out in ``mirror.chunk``-byte pieces every
               ``mirror.pause`` seconds (a slow but steady server: downloads overlap in time);
               the last piece waits until ``mirror.go`` is set (it is, unless a test clears it)
    trickle    full headers, then one body byte every ``mirror.pause`` seconds (never trips a
               read timeout, but far below any sane speed)
    trickle-headers  the status line, then one header byte every ``mirror.pause`` seconds
    stall      headers and the first ``mirror.stall_after`` bytes, then silence until the
               client gives up (a read timeout after some bytes arrived)
    429        429 Too Many Requests with ``Retry-After: mirror.retry_after``
    429-once   like "429" for the first request of that file, then like "ok"

``mirror.times`` holds the time.monotonic() of each request, parallel to ``mirror.requests``.
Slow behaviours stop as soon as the client hangs up or the server is shut down.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_MirrorHTTPServer"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base-class signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        mirror = self.server.mirror
        with mirror.lock:
            mirror.requests.append((name, range_header))
            mirror.times.append(time.monotonic())
            behaviour = mirror.behaviours.get(name, "ok")
            count = sum(1 for n, _ in mirror.requests if n == name)
        data = mirror.files.get(name)
        if data is None or behaviour == "404":
            return self._simple(404, b"not found")
        if behaviour == "500":
            return self._simple(500, b"server error")
        if behaviour == "429" or (behaviour == "429-once" and count == 1):
            return self._body(429, b"slow down", {"Retry-After": mirror.retry_after})
        if behaviour == "trickle-headers":
            return self._trickle(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(data) + b"X-Pad: " + b"x" * 10_000)
        if behaviour == "wrong":
            return self._body(200, bytes(b ^ 0xFF for b in data))
        if behaviour == "drop" or (behaviour == "drop-once" and count == 1):
            return self._drop(data)
        if behaviour in ("slow", "trickle", "stall"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if behaviour == "slow":
                return self._paced(data, mirror.chunk, gated=True)
            if behaviour == "trickle":
                return self._paced(data, 1)
            self.wfile.write(data[: mirror.stall_after])
            self.wfile.flush()
            mirror.stop.wait()
            return None
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and behaviour != "no-range":
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._body(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        return self._body(200, data)

    def _simple(self, code: int, text: bytes) -> None:
        self._body(code, text)

    def _body(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _paced(self, data: bytes, chunk: int, gated: bool = False) -> None:
        """Send ``data`` ``chunk`` bytes at a time, pausing in between; stop if the client left.
        ``gated``: hold the last piece until ``mirror.go`` is set."""
        mirror = self.server.mirror
        for start in range(0, len(data), chunk):
            if gated and start + chunk >= len(data):
                while not mirror.go.wait(0.05):
                    if mirror.stop.is_set():
                        return
            try:
                self.wfile.write(data[start : start + chunk])
                self.wfile.flush()
            except OSError:
                return
            if start + chunk < len(data) and mirror.stop.wait(mirror.pause):
                return

    def _trickle(self, raw: bytes) -> None:
        """Write raw protocol bytes one at a time (for headers that never end)."""
        self.close_connection = True
        self._paced(raw, 1)

    def _drop(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _MirrorHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: nothing outlives a test
    mirror: "Mirror"

    def handle_error(self, request, client_address) -> None:
        """Clients hanging up (e.g. after a deliberate drop) are expected: no traceback on stderr."""


class Mirror:
    """State shared with the server thread: files, behaviours, and the request log."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.behaviours: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.times: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()  # set at shutdown: slow handlers return at once
        self.go = threading.Event()  # "slow" bodies hold their last piece while this is clear
        self.go.set()
        self.pause = 0.1  # seconds between pieces for "slow", "trickle", "trickle-headers"
        self.chunk = 4096  # bytes per piece for "slow"
        self.stall_after = 100  # bytes sent before "stall" goes silent
        self.retry_after = "1"  # Retry-After header of "429"
        self.url = ""

    def behave(self, name: str, behaviour: str) -> None:
        with self.lock:
            self.behaviours[name] = behaviour

    def behave_all(self, behaviour: str) -> None:
        for name in self.files:
            self.behave(name, behaviour)


@contextlib.contextmanager
def http_mirror(files: dict[str, bytes], behaviour: str = "ok") -> Iterator[Mirror]:
    """Serve ``files`` ({name: bytes}) on 127.0.0.1 (a free port) with scriptable behaviour."""
    mirror = Mirror(files)
    mirror.behave_all(behaviour)
    server = _MirrorHTTPServer(("127.0.0.1", 0), _Handler)
    server.mirror = mirror
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        mirror.stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
