"""Fetch the four MNIST files from a list of mirrors and verify them against pinned checksums.

How a download works, file by file:

1. A file already in the data directory is hashed (MD5 and SHA-256, ~20 ms for all four).
   If it matches its pinned checksums nothing else happens: no network request at all.
   A file that does not match is kept until a verified copy has been downloaded, then moved
   aside to ``NAME.bad-<sha8>`` (it may be the user's own data; it is never deleted).
   A directory or other non-file under an MNIST name is an error, not something to replace.
2. Otherwise the mirrors are tried in order: ``--mirror`` URLs, then ``$MNIST_MIRROR``
   (comma-separated), then :data:`DEFAULT_MIRRORS`. A mirror is an ``http(s)://`` URL, a
   ``file://`` URL or a plain directory path; the file name is appended to it. A malformed
   URL is refused before anything is fetched, and passwords in URLs are never printed.
3. Downloads into one data directory are serialised by an ``flock`` on ``.download.lock``, so
   two processes starting at once do not share a ``.part``: the second waits, then finds the
   files verified.
4. Bytes go to ``FILE.part`` -- never more than the pinned size, from HTTP or a local mirror.
   Transient trouble (connection refused, timeout, a connection dropped mid-file, HTTP
   5xx/429, with its Retry-After honoured up to a minute) is retried a few times with
   exponential backoff; a retry after a drop resumes the ``.part`` with an HTTP ``Range``
   request. A server that ignores ``Range`` (answers 200 instead of 206) simply makes the
   download restart from byte 0. A transfer slower than 1 kB/s over 30 s, or a response
   whose headers do not arrive within 40 s, is abandoned for the next mirror.
5. When the ``.part`` is complete it is hashed; only if size, MD5 and SHA-256 all match is it
   renamed to its final name (``os.replace``, atomic). A mismatch discards it and moves on to
   the next mirror, as does an HTTP error such as 404 or a mirror that cannot be reached.
6. If some file cannot be fetched from any mirror, :class:`~mnist_app.errors.DownloadError`
   is raised: one line listing every mirror tried for each failed file and why it failed,
   ending with how to point the program at other mirrors (``--mirror``/``$MNIST_MIRROR``).
   Problems with the data directory itself (unwritable, a ``.part`` that is a directory or
   belongs to someone else) are one-line errors naming the path.

``requests`` and ``tqdm`` are imported inside the functions that use them, so importing this
module (for example to read :data:`MNIST_FILES`) stays cheap.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import hashlib
import os
import re
import stat
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_app import __version__
from mnist_app.errors import DownloadError

try:
    import fcntl
except ImportError:  # Windows: no flock; see _data_dir_lock
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class FileSpec:
    """What a correct copy of one file looks like.

    ``md5`` is the checksum published with MNIST; ``sha256`` is the stronger one we pin
    ourselves. ``size`` (bytes) lets a wrong or over-long download be stopped early; it may be
    ``None`` when unknown.
    """

    md5: str
    sha256: str
    size: int | None = None


#: The four canonical MNIST files (LeCun, Cortes & Burges), gzip-compressed IDX.
MNIST_FILES: dict[str, FileSpec] = {
    "train-images-idx3-ubyte.gz": FileSpec(
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9912422,
    ),
    "train-labels-idx1-ubyte.gz": FileSpec(
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28881,
    ),
    "t10k-images-idx3-ubyte.gz": FileSpec(
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1648877,
    ),
    "t10k-labels-idx1-ubyte.gz": FileSpec(
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4542,
    ),
}

#: Well-known public mirrors, tried in this order after any user-supplied ones.
#: (yann.lecun.com, the original home, now often refuses downloads, so it comes last.)
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Environment variables: data directory, and extra mirrors (comma-separated).
ENV_DATA_DIR = "MNIST_DATA_DIR"
ENV_MIRROR = "MNIST_MIRROR"

#: Defaults for the network: (connect, read) timeouts in seconds, retries per mirror, and
#: the first backoff delay in seconds (doubled after every retry).
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5
CHUNK_SIZE = 64 * 1024
#: The slowest transfer we wait for: under MIN_SPEED bytes/s over SPEED_WINDOW seconds the
#: mirror is abandoned for the next one (a trickling server never trips the read timeout).
MIN_SPEED = 1024
SPEED_WINDOW = 30.0
#: The longest Retry-After (HTTP 429/503) we honour before retrying; longer: next mirror.
MAX_RETRY_AFTER = 60.0
#: Held (flock) while a process downloads into a data directory; see _data_dir_lock.
LOCK_FILE = ".download.lock"
_MIRROR_HINT = (
    "if you have the four MNIST .gz files (or a mirror), pass --mirror DIR_OR_URL "
    f"(repeatable) or set {ENV_MIRROR}=DIR_OR_URL[,...]"
)

STATUS_DOWNLOADED = "downloaded"
STATUS_PRESENT = "already_present"


@dataclass(frozen=True)
class FileResult:
    """The outcome for one verified file (see :func:`fetch_files`)."""

    name: str
    path: Path
    md5: str
    sha256: str
    size: int
    status: str  # STATUS_DOWNLOADED or STATUS_PRESENT
    mirror: str | None  # where it came from (password redacted); None if already present or a complete .part
    moved_aside: Path | None = None  # where a wrong file under this name was moved (NAME.bad-<sha8>)


# --------------------------------------------------------------------------- configuration


def default_data_dir() -> Path:
    """``$MNIST_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/mnist_app`` (``~/.cache/mnist_app``)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "mnist_app"


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/\s]*@")


def redact(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***`` (D21):
    ``http://user:secret@host/`` -> ``http://user:***@host/``."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def check_mirror(mirror: str) -> str:
    """``mirror`` unchanged if it is usable; otherwise ValueError saying why (D15).

    A mirror with ``://`` must be an ``http(s)://`` URL with a host or a ``file://`` URL;
    anything else is a directory path (checked when it is used).
    """
    if not _is_url(mirror):
        return mirror
    try:
        parts = urllib.parse.urlsplit(mirror)
        parts.port  # noqa: B018 - parsing the port is the check ("http://h:99999/" raises)
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError("no host name in the URL")
    elif scheme != "file":
        raise ValueError(f"unsupported scheme {scheme!r} (use http(s)://, file:// or a directory)")
    return mirror


def resolve_mirrors(
    extra: Iterable[str] = (), *, use_env: bool = True, use_default_mirrors: bool = True
) -> list[str]:
    """The ordered mirror list: ``extra`` first, then ``$MNIST_MIRROR``, then the defaults.

    Empty entries are dropped and duplicates keep their first position. A malformed mirror
    is a DownloadError naming it (password redacted) and where it came from.
    """
    candidates: list[tuple[str, str]] = [(m.strip(), "--mirror") for m in extra]
    if use_env:
        candidates += [(m.strip(), f"${ENV_MIRROR}") for m in os.environ.get(ENV_MIRROR, "").split(",")]
    if use_default_mirrors:
        candidates += [(m, "default") for m in DEFAULT_MIRRORS]
    mirrors: list[str] = []
    for mirror, origin in candidates:
        if mirror and mirror not in mirrors:
            try:
                check_mirror(mirror)
            except ValueError as exc:
                raise DownloadError(f"{origin}: bad mirror {redact(mirror)!r}: {exc}") from None
            mirrors.append(mirror)
    return mirrors


# --------------------------------------------------------------------------- checksums


def file_digests(path: Path) -> tuple[int, str, str]:
    """(size, md5 hex, sha256 hex) of a file, read once in 1 MiB blocks."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            md5.update(block)
            sha256.update(block)
            size += len(block)
    return size, md5.hexdigest(), sha256.hexdigest()


def _mismatch(digests: tuple[int, str, str], spec: FileSpec) -> str | None:
    """Why ``digests`` do not match ``spec`` (None if they do)."""
    size, md5, sha256 = digests
    if spec.size is not None and size != spec.size:
        return f"size {size} bytes, expected {spec.size}"
    if md5 != spec.md5.lower():
        return f"MD5 mismatch (got {md5}, expected {spec.md5})"
    if sha256 != spec.sha256.lower():
        return f"SHA-256 mismatch (got {sha256}, expected {spec.sha256})"
    return None


# --------------------------------------------------------------------------- fetching


class _MirrorFailed(Exception):
    """This mirror cannot deliver this file; try the next one. ``retry``: worth retrying.
    ``wait``: seconds the server asked us to wait before retrying (Retry-After), if any."""

    def __init__(self, reason: str, *, retry: bool = False, unreachable: bool = False,
                 wait: float | None = None):
        super().__init__(reason)
        self.retry = retry
        self.unreachable = unreachable  # the host itself is down: skip it for the other files
        self.wait = wait


def _is_url(mirror: str) -> bool:
    return "://" in mirror


def _source(mirror: str, name: str) -> str:
    """Where ``name`` lives on ``mirror`` (a URL or a local path)."""
    if _is_url(mirror):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(name)
    return str(Path(mirror).expanduser() / name)


def _progress(name: str, total: int | None, initial: int, quiet: bool):
    """A tqdm byte progress bar on stderr, disabled when quiet or stderr is not a terminal."""
    from tqdm import tqdm

    disable = quiet or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    return tqdm(
        total=total,
        initial=initial,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=disable,
        leave=True,
    )


def _local_error(path: Path, exc: OSError, action: str = "cannot write") -> DownloadError:
    """A problem with our own data directory: fatal (every mirror would hit it), one line."""
    hint = f"remove or rename it, or choose another data directory with --data-dir or ${ENV_DATA_DIR}"
    return DownloadError(f"{path}: {action} ({exc.strerror or exc}); {hint}")


def _open_part(part: Path, mode: str):
    """Open the ``.part`` file; a local failure (a directory, another user's file) is fatal.

    A symbolic link is refused (``O_NOFOLLOW``): in a shared data directory someone else's
    ``FILE.part`` link could otherwise make us write into any file we can write to.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "ab" else os.O_TRUNC)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        return os.fdopen(os.open(part, flags, 0o666), mode)
    except OSError as exc:
        if part.is_symlink():
            raise DownloadError(f"{part}: is a symbolic link; remove it (downloads never write through links)") from exc
        raise _local_error(part, exc) from exc


def _write(handle, chunk: bytes, part: Path) -> None:
    """Write a chunk; a local write error (disk full...) is fatal, not a mirror failure."""
    try:
        handle.write(chunk)
    except OSError as exc:
        raise DownloadError(f"{part}: cannot write: {exc.strerror or exc}") from exc


class _SpeedFloor:
    """Gives up on a transfer slower than ``floor`` bytes/s over any ``window`` seconds (D12):
    a server that trickles a byte every few seconds never trips a socket read timeout."""

    def __init__(self, floor: float, window: float):
        self.floor, self.window = floor, window
        self.start, self.bytes = time.monotonic(), 0

    def update(self, n: int) -> None:
        self.bytes += n
        elapsed = time.monotonic() - self.start
        if elapsed >= self.window:
            if self.bytes < self.floor * elapsed:
                raise _MirrorFailed(
                    f"too slow: {self.bytes:,} bytes in {elapsed:.0f} s "
                    f"(under {self.floor:,.0f} bytes/s); giving up on this mirror"
                )
            self.start, self.bytes = time.monotonic(), 0


def _copy_local(source: Path, part: Path, name: str, spec: FileSpec, quiet: bool, speed: _SpeedFloor) -> None:
    """Copy from a ``file://`` or directory mirror into ``part`` (from scratch), never more
    than the pinned size: a huge file under an MNIST name cannot fill the disk (D11)."""
    try:
        if not source.is_file():
            raise _MirrorFailed("no such file")  # the mirror (a folder) is named beside this
        total = source.stat().st_size
        if spec.size is not None and total != spec.size:
            raise _MirrorFailed(f"{source} is {total:,} bytes, expected {spec.size:,}")
        src = open(source, "rb")
    except OSError as exc:
        raise _MirrorFailed(f"cannot read {source}: {exc.strerror or exc}") from exc
    limit = spec.size if spec.size is not None else total
    copied = 0
    with src, _open_part(part, "wb") as dst, _progress(name, total, 0, quiet) as bar:
        while True:
            try:
                chunk = src.read(min(CHUNK_SIZE, limit + 1 - copied))
            except OSError as exc:
                raise _MirrorFailed(f"cannot read {source}: {exc.strerror or exc}") from exc
            if not chunk:
                break
            copied += len(chunk)
            if copied > limit:
                raise _MirrorFailed(f"{source} holds more than the expected {limit:,} bytes")
            _write(dst, chunk, part)
            bar.update(len(chunk))
            speed.update(len(chunk))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _get_with_deadline(session, url: str, headers: dict[str, str], timeout, deadline: float):
    """``session.get(url, stream=True)``, but give up if the response headers have not all
    arrived within ``deadline`` seconds (a server trickling its headers never trips the
    per-read timeout). The abandoned request finishes in a daemon thread and is closed."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def request() -> None:
        try:
            outcome["response"] = session.get(url, headers=headers, stream=True, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller's thread
            outcome["error"] = exc
        done.set()
        if outcome.get("abandoned") and "response" in outcome:
            outcome["response"].close()

    thread = threading.Thread(target=request, name=f"mnist_app GET {_short_url(url)}", daemon=True)
    thread.start()
    if not done.wait(deadline):
        outcome["abandoned"] = True
        if done.is_set() and "response" in outcome:
            outcome["response"].close()
        raise _MirrorFailed(f"no complete response within {deadline:.0f} s; giving up on this mirror")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


def _short_url(url: str) -> str:
    return redact(url)[:80]


def _fetch_http(session, url: str, part: Path, name: str, spec: FileSpec, *, timeout, quiet: bool,
                speed: _SpeedFloor) -> None:
    """One HTTP attempt: stream ``url`` into ``part``, resuming it with a Range request.

    Raises _MirrorFailed (``retry=True`` for transient trouble) if the body is not complete.
    Bytes are taken raw from the socket (``decode_content=False``) so a server that labels the
    .gz with ``Content-Encoding: gzip`` cannot make us store decompressed data. ``read1``
    returns whatever has arrived, so every byte counts towards the speed floor and the
    messages, even when the connection stalls inside a 64 kB block.
    """
    import requests
    import urllib3

    offset = part.stat().st_size if part.exists() else 0
    if spec.size is not None and offset >= spec.size:  # complete or over-long leftover: start again
        part.unlink()
        offset = 0
    headers = {"Accept-Encoding": "identity", "User-Agent": f"mnist_app/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    connect_timeout = timeout[0] if isinstance(timeout, tuple) else timeout
    try:
        response = _get_with_deadline(session, url, headers, timeout, speed.window + connect_timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        # No response. Refused / DNS failure / connect timeout mean the host is down, and it is
        # skipped for the remaining files; anything else (read timeout, reset) is just retried.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        unreachable = isinstance(exc, requests.ConnectTimeout) or isinstance(
            reason, urllib3.exceptions.NewConnectionError
        )
        raise _MirrorFailed(f"no response: {_short(exc)}", retry=True, unreachable=unreachable) from exc
    except requests.RequestException as exc:
        raise _MirrorFailed(f"request failed ({_short(exc)})") from exc

    with response:
        status = response.status_code
        if status == 416 and offset:  # our .part is longer than the file: restart it
            part.unlink()
            raise _MirrorFailed("server rejected the resume range (HTTP 416)", retry=True)
        if status >= 400:
            transient = status >= 500 or status == 429
            wait = _retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
            raise _MirrorFailed(f"HTTP {status} {response.reason or ''}".rstrip(), retry=transient, wait=wait)
        mode = "wb"
        if status == 206 and offset:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                part.unlink()
                raise _MirrorFailed(f"unexpected Content-Range {content_range!r}", retry=True)
            mode = "ab"
        elif status != 200:
            raise _MirrorFailed(f"unexpected HTTP {status}")
        else:
            offset = 0  # server ignored Range (or none was sent): restart from byte 0

        length = response.headers.get("Content-Length")
        expected_total = offset + int(length) if length and length.isdigit() else None
        if spec.size is not None and expected_total is not None and expected_total != spec.size:
            raise _MirrorFailed(f"server offers {expected_total} bytes, expected {spec.size}")
        total = spec.size if spec.size is not None else expected_total

        raw = response.raw
        read = raw.read1 if hasattr(raw, "read1") else raw.read  # urllib3 < 2 has no read1
        received = offset
        with _open_part(part, mode) as handle, _progress(name, total, offset, quiet) as bar:
            while True:
                try:
                    chunk = read(CHUNK_SIZE, decode_content=False)
                except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                    raise _MirrorFailed(
                        f"connection dropped after {received - offset:,} bytes arrived ({_short(exc)})", retry=True
                    ) from exc
                if not chunk:
                    break
                _write(handle, chunk, part)
                received += len(chunk)
                bar.update(len(chunk))
                if spec.size is not None and received > spec.size:
                    raise _MirrorFailed(f"sent more than the expected {spec.size} bytes")
                speed.update(len(chunk))
        if total is not None and received < total:
            raise _MirrorFailed(
                f"connection ended after {received - offset:,} bytes arrived ({received:,} of {total:,})", retry=True
            )


def _short(exc: BaseException) -> str:
    """A short one-line description of a network exception ("Connection refused", ...)."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout) or "timed out" in text.lower():
        return "read timeout"
    errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno_text:
        return errno_text.group(1).strip()
    for marker in ("IncompleteRead", "Connection aborted", "Connection broken", "RemoteDisconnected"):
        if marker in text:
            return marker
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _fetch_from_mirror(session, mirror: str, name: str, spec: FileSpec, part: Path, *,
                       retries: int, backoff: float, timeout, quiet: bool,
                       speed_floor: tuple[float, float]) -> tuple[int, str, str]:
    """Get ``name`` from one mirror into ``part`` and verify it; returns its digests.

    Raises _MirrorFailed when this mirror cannot deliver a correct file.
    """
    source = _source(mirror, name)
    if not _is_url(mirror) or source.startswith("file://"):
        if source.startswith("file://"):
            parsed = urllib.parse.urlparse(source)
            path = Path(urllib.request.url2pathname(parsed.path))
        else:
            path = Path(source)
        _copy_local(path, part, name, spec, quiet, _SpeedFloor(*speed_floor))
        digests = file_digests(part)
        reason = _mismatch(digests, spec)
        if reason:
            part.unlink(missing_ok=True)
            raise _MirrorFailed(reason)
        return digests

    attempt = 0
    restarted = False
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        try:
            _fetch_http(session, source, part, name, spec, timeout=timeout, quiet=quiet,
                        speed=_SpeedFloor(*speed_floor))
        except _MirrorFailed as exc:
            if not exc.retry or attempt >= retries:
                raise
            if exc.wait is not None and exc.wait > MAX_RETRY_AFTER:
                raise _MirrorFailed(
                    f"{exc}, asks to retry after {exc.wait:.0f} s (longer than we wait, {MAX_RETRY_AFTER:.0f} s)"
                ) from None
            attempt += 1
            delay = exc.wait if exc.wait is not None else backoff * 2 ** (attempt - 1)
            after = f" in {delay:.0f} s as the server asks (Retry-After)" if exc.wait is not None else ""
            _note(quiet, f"{name}: {source}: {exc}; retry {attempt}/{retries}{after}")
            time.sleep(delay)
            continue
        digests = file_digests(part)
        reason = _mismatch(digests, spec)
        if reason is None:
            return digests
        part.unlink(missing_ok=True)
        if resumed and not restarted:
            # The leftover .part may have come from somewhere else: try once from scratch.
            restarted = True
            _note(quiet, f"{name}: resumed download failed verification ({reason}); restarting")
            continue
        raise _MirrorFailed(reason)


def _note(quiet: bool, message: str) -> None:
    if not quiet:
        print(redact(message), file=sys.stderr)


def _check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and prove we can write there, or raise DownloadError."""
    hint = f"choose another with --data-dir or ${ENV_DATA_DIR}"
    try:
        if directory.exists() and not directory.is_dir():
            raise DownloadError(f"data directory {directory} is not a directory; {hint}")
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DownloadError(
            f"data directory {directory} is not writable ({exc.strerror or exc}); {hint}"
        ) from exc


@contextlib.contextmanager
def _data_dir_lock(directory: Path, quiet: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.download.lock`` (D3).

    Two processes downloading into one data directory would otherwise share ``FILE.part``.
    The second one waits here, then finds the files the first one verified. The lock is an
    ``flock`` on a file that stays in place (removing it would let a third process lock a
    new file while the second still holds the old one); the kernel releases it when its
    holder exits, even after kill -9. Without ``fcntl`` (Windows) there is no lock.
    """
    if fcntl is None:
        yield
        return
    lock = directory / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        try:  # another user's lock file in a shared data directory: a read-only fd locks too
            fd = os.open(lock, os.O_RDONLY)
        except OSError as exc:
            raise _local_error(lock, exc, "cannot open the download lock") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _note(quiet, f"{directory}: another process is downloading MNIST here; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. ENOLCK on a network file system without lock support
            _note(quiet, f"{lock}: cannot lock ({exc.strerror or exc}); downloading without the lock")
        yield
    finally:
        os.close(fd)


def _inspect(final: Path, spec: FileSpec) -> tuple[tuple[int, str, str] | None, str | None]:
    """What is at ``final``: (None, None) nothing; (digests, None) the right file;
    (digests or None, reason) a wrong one. Anything but a readable regular file is fatal (D9)."""
    try:
        status = os.stat(final)
    except (FileNotFoundError, NotADirectoryError):  # the data directory itself: _check_writable
        return None, None
    except OSError as exc:
        raise _local_error(final, exc, "cannot look at it") from exc
    if stat.S_ISDIR(status.st_mode):
        raise DownloadError(
            f"{final}: is a directory, not the MNIST file of that name; remove or rename it, "
            f"or choose another data directory with --data-dir or ${ENV_DATA_DIR}"
        )
    if not stat.S_ISREG(status.st_mode):
        raise DownloadError(f"{final}: is not a regular file; remove or rename it")
    if spec.size is not None and status.st_size != spec.size:
        return None, f"size {status.st_size:,} bytes, expected {spec.size:,}"
    try:
        digests = file_digests(final)
    except OSError as exc:
        raise _local_error(final, exc, "cannot read") from exc
    return digests, _mismatch(digests, spec)


def _move_aside(final: Path, digests: tuple[int, str, str] | None) -> Path:
    """Rename a wrong file to ``NAME.bad-<first 8 hex of its SHA-256>`` (D10): it may be the
    user's own data (a Fashion-MNIST folder uses the same names), so it is never deleted."""
    try:
        sha256 = (digests or file_digests(final))[2]
        aside = final.with_name(f"{final.name}.bad-{sha256[:8]}")
        number = 1
        while aside.exists() or aside.is_symlink():
            number += 1
            aside = final.with_name(f"{final.name}.bad-{sha256[:8]}-{number}")
        os.rename(final, aside)
    except OSError as exc:
        raise _local_error(final, exc, "wrong checksum and cannot move it aside") from exc
    return aside


def _install(part: Path, final: Path, wrong: tuple[tuple[int, str, str] | None, str] | None) -> Path | None:
    """Rename a verified ``part`` to ``final``, first moving a wrong file there aside.
    Returns where the wrong file went (None if there was none). Always says so on stderr,
    even with --quiet: the user's file has changed name."""
    aside = None
    if wrong is not None and (final.exists() or final.is_symlink()):
        aside = _move_aside(final, wrong[0])
        print(f"{final}: did not match the pinned MNIST checksums ({wrong[1]}); "
              f"kept it as {aside.name} and installed the verified download", file=sys.stderr)
    try:
        os.replace(part, final)
    except OSError as exc:
        raise _local_error(final, exc) from exc
    return aside


def fetch_files(
    data_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = (),
    *,
    quiet: bool = False,
    use_default_mirrors: bool = True,
    use_env: bool = True,
    files: Mapping[str, FileSpec] | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    speed_floor: tuple[float, float] = (MIN_SPEED, SPEED_WINDOW),
) -> list[FileResult]:
    """Make sure every file of ``files`` is in ``data_dir`` and verified; report what happened.

    Returns one :class:`FileResult` per file, in the order of ``files``, with its checksums and
    whether it was downloaded or already present.

    Args:
        data_dir: where the files go; default :func:`default_data_dir`.
        mirrors: extra mirrors tried before ``$MNIST_MIRROR`` and :data:`DEFAULT_MIRRORS`.
        quiet: no progress bars or messages on stderr (except that a wrong file was moved aside).
        use_default_mirrors: False to use only ``mirrors`` and ``$MNIST_MIRROR`` (offline use).
        use_env: False to ignore ``$MNIST_MIRROR``.
        files: ``{filename: FileSpec}`` to fetch instead of :data:`MNIST_FILES` -- tests use it
            to serve small generated files with their own pinned checksums.
        retries: extra attempts per mirror on transient errors (connection, timeout, 5xx).
        backoff: first delay in seconds between retries; doubled each time (0 in tests).
        timeout: requests timeout, seconds, or a (connect, read) pair.
        speed_floor: (bytes per second, window in seconds): a transfer slower than this over
            the window is abandoned for the next mirror (tests use a window of a second).

    Raises:
        DownloadError: a bad mirror URL, the data directory is unwritable or holds something
            unusable under a file's name (before any download), or some file could not be
            fetched with correct checksums from any mirror (one line per file).
    """
    specs = dict(MNIST_FILES if files is None else files)
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    mirror_list = resolve_mirrors(mirrors, use_env=use_env, use_default_mirrors=use_default_mirrors)

    results: dict[str, FileResult] = {}

    def present(name: str, digests: tuple[int, str, str]) -> None:
        results[name] = FileResult(name, directory / name, digests[1], digests[2], digests[0], STATUS_PRESENT, None)

    # First look without the lock (the common case: everything is here, nothing to wait for).
    for name, spec in specs.items():
        digests, reason = _inspect(directory / name, spec)
        if digests is not None and reason is None:
            present(name, digests)
    if len(results) == len(specs):
        return [results[name] for name in specs]

    _check_writable(directory)
    with _data_dir_lock(directory, quiet):
        # Again under the lock: another process may have finished (or started) meanwhile.
        wrong: dict[str, tuple[tuple[int, str, str] | None, str]] = {}
        todo: list[str] = []
        for name, spec in specs.items():
            if name in results:
                continue
            digests, reason = _inspect(directory / name, spec)
            if digests is not None and reason is None:
                present(name, digests)
                continue
            if reason is not None:
                wrong[name] = (digests, reason)
                _note(quiet, f"{directory / name}: {reason}; downloading a verified copy "
                             "(this one will be kept under another name)")
            part = directory / (name + ".part")
            if part.is_symlink():
                raise DownloadError(f"{part}: is a symbolic link; remove it (downloads never write through links)")
            if part.exists() and not part.is_file():
                raise DownloadError(
                    f"{part}: is not a regular file (a directory?); remove it or choose another "
                    f"data directory with --data-dir or ${ENV_DATA_DIR}"
                )
            todo.append(name)
        if todo:
            _download(directory, todo, specs, wrong, mirror_list, results, quiet=quiet, retries=retries,
                      backoff=backoff, timeout=timeout, speed_floor=speed_floor)
    return [results[name] for name in specs]


def _download(directory: Path, todo: list[str], specs: Mapping[str, FileSpec], wrong: dict,
              mirror_list: list[str], results: dict[str, FileResult], **options: Any) -> None:
    """Fetch every file of ``todo`` (under the data directory's lock) into ``results``."""
    if not mirror_list:
        # Say why a file that is there needs downloading (a Fashion-MNIST file under an MNIST name):
        # the note that said so may have been quiet.
        kept = "".join(f"; {directory / name} is not the MNIST file ({wrong[name][1]}) and was left untouched"
                       for name in todo if name in wrong)
        raise DownloadError(
            f"no mirrors to download {', '.join(todo)} from (not in {directory}){kept}; {_MIRROR_HINT}"
        )
    import requests  # only now: a run with every file present never loads it

    failures: dict[str, tuple[str, ...]] = {}  # file name -> "mirror (why)" for each mirror tried
    unreachable: dict[str, str] = {}  # mirror -> why it could not be reached (not asked again)
    with requests.Session() as session:
        for name in todo:
            try:
                result, tried = _download_one(session, directory, name, specs[name], wrong.get(name),
                                              mirror_list, unreachable, options)
            except OSError as exc:
                if exc.filename is None or isinstance(exc, requests.RequestException):
                    raise
                # Our own files (another user's .part we cannot remove, a file vanishing
                # under us): fatal, and one line naming the path.
                raise _local_error(Path(exc.filename), exc, "cannot use it") from exc
            if result is None:
                failures[name] = tried
            else:
                results[name] = result
    if failures:
        all_unreachable = all(mirror in unreachable for mirror in mirror_list)
        raise DownloadError(redact(_failure_message(directory, failures, len(specs), wrong, all_unreachable)))


def _download_one(session, directory: Path, name: str, spec: FileSpec, wrong, mirror_list: list[str],
                  unreachable: dict[str, str], options: dict[str, Any]) -> tuple[FileResult | None, tuple[str, ...]]:
    """Fetch one file from the first mirror that delivers it verified; install it.
    Returns (its result, or None if every mirror failed; "mirror (why)" for each mirror tried)."""
    final, part = directory / name, directory / (name + ".part")
    if part.is_file() and spec.size is not None and part.stat().st_size == spec.size:
        # A complete .part (interrupted just before the rename): no need to fetch it.
        digests = file_digests(part)
        if _mismatch(digests, spec) is None:
            aside = _install(part, final, wrong)
            return FileResult(name, final, digests[1], digests[2], digests[0], STATUS_DOWNLOADED, None, aside), ()
    tried: list[str] = []
    for mirror in mirror_list:
        shown = redact(mirror)
        if mirror in unreachable:
            tried.append(f"{shown} ({unreachable[mirror]})")
            continue
        try:
            digests = _fetch_from_mirror(session, mirror, name, spec, part, **options)
        except _MirrorFailed as exc:
            tried.append(f"{shown} ({exc})")
            if exc.unreachable:
                unreachable[mirror] = str(exc)
            _note(options["quiet"], f"{name}: {mirror} failed: {exc}")
            continue
        aside = _install(part, final, wrong)
        _note(options["quiet"], f"{name}: downloaded from {mirror} ({digests[0]:,} bytes, checksums OK)")
        return FileResult(name, final, digests[1], digests[2], digests[0], STATUS_DOWNLOADED, shown, aside), ()
    return None, tuple(tried)


def _failure_message(directory: Path, failures: dict[str, tuple[str, ...]], n_files: int,
                     wrong: dict, all_unreachable: bool) -> str:
    """One line: which files, every mirror tried and why (files that failed alike share one
    list), wrong files left in place, and how to give the program another mirror."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, tried in failures.items():
        groups.setdefault(tried, []).append(name)
    parts = [f"{', '.join(names)}: tried {'; '.join(tried)}" for tried, names in groups.items()]
    kept = [str(directory / name) for name in failures if name in wrong]
    if kept:
        parts.append(f"the wrong file(s) {', '.join(kept)} were left untouched")
    offline = "no mirror could be reached (offline?): " if all_unreachable else ""
    return (f"could not download {len(failures)} of {n_files} file(s) into {directory} -- "
            + " | ".join(parts) + f" -- {offline}{_MIRROR_HINT}")


def download_mnist(
    data_dir: str | os.PathLike | None = None, mirrors: Sequence[str] = (), **options: Any
) -> dict[str, Path]:
    """Download (if needed) and verify the MNIST files; return ``{filename: path}``.

    Arguments and errors as :func:`fetch_files` (which also reports, per file, what happened).
    """
    return {r.name: r.path for r in fetch_files(data_dir, mirrors, **options)}


__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_FILES",
    "FileResult",
    "FileSpec",
    "default_data_dir",
    "download_mnist",
    "fetch_files",
    "file_digests",
    "resolve_mirrors",
]
