"""Fetch the four MNIST files from a list of mirrors and verify them against pinned checksums.

How a download works, file by file:

1. A file already in the data directory is hashed (MD5 and SHA-256, ~20 ms for all four).
   If it matches its pinned checksums nothing else happens: no network request at all.
   A file that does not match is removed (a wrong file never stays under its final name).
2. Otherwise the mirrors are tried in order: ``--mirror`` URLs, then ``$MNIST_MIRROR``
   (comma-separated), then :data:`DEFAULT_MIRRORS`. A mirror is an ``http(s)://`` URL, a
   ``file://`` URL or a plain directory path; the file name is appended to it.
3. Bytes go to ``FILE.part``. Transient trouble (connection refused, timeout, a connection
   dropped mid-file, HTTP 5xx/429) is retried a few times with exponential backoff; a retry
   after a drop resumes the ``.part`` with an HTTP ``Range`` request. A server that ignores
   ``Range`` (answers 200 instead of 206) simply makes the download restart from byte 0.
4. When the ``.part`` is complete it is hashed; only if size, MD5 and SHA-256 all match is it
   renamed to its final name (``os.replace``, atomic). A mismatch discards it and moves on to
   the next mirror, as does an HTTP error such as 404 or a mirror that cannot be reached.
5. If some file cannot be fetched from any mirror, :class:`~mnist_app.errors.DownloadError`
   is raised with one line per failed file listing every mirror tried and why it failed.

``requests`` and ``tqdm`` are imported inside the functions that use them, so importing this
module (for example to read :data:`MNIST_FILES`) stays cheap.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_app import __version__
from mnist_app.errors import DownloadError


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
    mirror: str | None  # where it came from; None if it was already present (or a complete .part)


# --------------------------------------------------------------------------- configuration


def default_data_dir() -> Path:
    """``$MNIST_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/mnist_app`` (``~/.cache/mnist_app``)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "mnist_app"


def resolve_mirrors(
    extra: Iterable[str] = (), *, use_env: bool = True, use_default_mirrors: bool = True
) -> list[str]:
    """The ordered mirror list: ``extra`` first, then ``$MNIST_MIRROR``, then the defaults.

    Empty entries are dropped and duplicates keep their first position.
    """
    candidates: list[str] = [m.strip() for m in extra]
    if use_env:
        candidates += [m.strip() for m in os.environ.get(ENV_MIRROR, "").split(",")]
    if use_default_mirrors:
        candidates += DEFAULT_MIRRORS
    mirrors: list[str] = []
    for mirror in candidates:
        if mirror and mirror not in mirrors:
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
    """This mirror cannot deliver this file; try the next one. ``retry``: worth retrying."""

    def __init__(self, reason: str, *, retry: bool = False, unreachable: bool = False):
        super().__init__(reason)
        self.retry = retry
        self.unreachable = unreachable  # the host itself is down: skip it for the other files


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


def _write(handle, chunk: bytes, part: Path) -> None:
    """Write a chunk; a local write error (disk full...) is fatal, not a mirror failure."""
    try:
        handle.write(chunk)
    except OSError as exc:
        raise DownloadError(f"{part}: cannot write: {exc.strerror or exc}") from exc


def _copy_local(source: Path, part: Path, name: str, spec: FileSpec, quiet: bool) -> None:
    """Copy from a ``file://`` or directory mirror into ``part`` (from scratch)."""
    if not source.is_file():
        raise _MirrorFailed(f"no such file {source}")
    try:
        total = source.stat().st_size
        with open(source, "rb") as src, open(part, "wb") as dst, _progress(name, total, 0, quiet) as bar:
            while chunk := src.read(CHUNK_SIZE):
                _write(dst, chunk, part)
                bar.update(len(chunk))
    except DownloadError:
        raise
    except OSError as exc:
        raise _MirrorFailed(f"cannot read {source}: {exc.strerror or exc}") from exc


def _fetch_http(session, url: str, part: Path, name: str, spec: FileSpec, *, timeout, quiet: bool) -> None:
    """One HTTP attempt: stream ``url`` into ``part``, resuming it with a Range request.

    Raises _MirrorFailed (``retry=True`` for transient trouble) if the body is not complete.
    Bytes are taken raw from the socket (``decode_content=False``) so a server that labels the
    .gz with ``Content-Encoding: gzip`` cannot make us store decompressed data.
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
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
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
            raise _MirrorFailed(f"HTTP {status} {response.reason or ''}".rstrip(), retry=transient)
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

        received = offset
        with open(part, mode) as handle, _progress(name, total, offset, quiet) as bar:
            chunks = response.raw.stream(CHUNK_SIZE, decode_content=False)
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                    raise _MirrorFailed(
                        f"connection dropped after {received} bytes ({_short(exc)})", retry=True
                    ) from exc
                _write(handle, chunk, part)
                received += len(chunk)
                bar.update(len(chunk))
                if spec.size is not None and received > spec.size:
                    raise _MirrorFailed(f"sent more than the expected {spec.size} bytes")
        if total is not None and received < total:
            raise _MirrorFailed(f"connection ended after {received} of {total} bytes", retry=True)


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
                       retries: int, backoff: float, timeout, quiet: bool) -> tuple[int, str, str]:
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
        _copy_local(path, part, name, spec, quiet)
        digests = file_digests(part)
        reason = _mismatch(digests, spec)
        if reason:
            part.unlink(missing_ok=True)
            raise _MirrorFailed(reason)
        return digests
    scheme = urllib.parse.urlparse(source).scheme.lower()
    if scheme not in ("http", "https"):
        raise _MirrorFailed(f"unsupported mirror scheme {scheme!r} (use http(s)://, file:// or a directory)")

    attempt = 0
    restarted = False
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        try:
            _fetch_http(session, source, part, name, spec, timeout=timeout, quiet=quiet)
        except _MirrorFailed as exc:
            if not exc.retry or attempt >= retries:
                raise
            attempt += 1
            _note(quiet, f"{name}: {source}: {exc}; retry {attempt}/{retries}")
            time.sleep(backoff * 2 ** (attempt - 1))
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
        print(message, file=sys.stderr)


def _check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and prove we can write there, or raise DownloadError."""
    hint = f"choose another with --data-dir or ${ENV_DATA_DIR}"
    if directory.exists() and not directory.is_dir():
        raise DownloadError(f"data directory {directory} is not a directory; {hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DownloadError(
            f"data directory {directory} is not writable ({exc.strerror or exc}); {hint}"
        ) from exc


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
) -> list[FileResult]:
    """Make sure every file of ``files`` is in ``data_dir`` and verified; report what happened.

    Returns one :class:`FileResult` per file, in the order of ``files``, with its checksums and
    whether it was downloaded or already present.

    Args:
        data_dir: where the files go; default :func:`default_data_dir`.
        mirrors: extra mirrors tried before ``$MNIST_MIRROR`` and :data:`DEFAULT_MIRRORS`.
        quiet: no progress bars or messages on stderr.
        use_default_mirrors: False to use only ``mirrors`` and ``$MNIST_MIRROR`` (offline use).
        use_env: False to ignore ``$MNIST_MIRROR``.
        files: ``{filename: FileSpec}`` to fetch instead of :data:`MNIST_FILES` -- tests use it
            to serve small generated files with their own pinned checksums.
        retries: extra attempts per mirror on transient errors (connection, timeout, 5xx).
        backoff: first delay in seconds between retries; doubled each time (0 in tests).
        timeout: requests timeout, seconds, or a (connect, read) pair.

    Raises:
        DownloadError: the data directory is unwritable (before any download), or some file
            could not be fetched with correct checksums from any mirror (one line per file).
    """
    specs = dict(MNIST_FILES if files is None else files)
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    mirror_list = resolve_mirrors(mirrors, use_env=use_env, use_default_mirrors=use_default_mirrors)

    results: dict[str, FileResult] = {}
    todo: list[str] = []
    for name, spec in specs.items():
        final = directory / name
        if final.is_file():
            digests = file_digests(final)
            reason = _mismatch(digests, spec)
            if reason is None:
                results[name] = FileResult(name, final, digests[1], digests[2], digests[0], STATUS_PRESENT, None)
                continue
            _note(quiet, f"{final}: {reason}; removing it and downloading again")
            try:
                final.unlink()
            except OSError as exc:
                raise DownloadError(f"{final}: wrong checksum and cannot remove it ({exc.strerror or exc})") from exc
        todo.append(name)

    if todo:
        _check_writable(directory)
        if not mirror_list:
            raise DownloadError(
                f"no mirrors to download {', '.join(todo)} from; pass --mirror URL or set ${ENV_MIRROR}"
            )
        import requests  # only now: a run with every file present never loads it

        failures: list[str] = []
        unreachable: dict[str, str] = {}  # mirror -> why it could not be reached
        with requests.Session() as session:
            for name in todo:
                spec = specs[name]
                final, part = directory / name, directory / (name + ".part")
                tried: list[str] = []
                if part.is_file() and spec.size is not None and part.stat().st_size == spec.size:
                    # A complete .part (interrupted just before the rename): no need to fetch it.
                    digests = file_digests(part)
                    if _mismatch(digests, spec) is None:
                        os.replace(part, final)
                        results[name] = FileResult(
                            name, final, digests[1], digests[2], digests[0], STATUS_DOWNLOADED, None
                        )
                        continue
                for mirror in mirror_list:
                    if mirror in unreachable:
                        tried.append(f"{mirror} (skipped, unreachable earlier: {unreachable[mirror]})")
                        continue
                    try:
                        digests = _fetch_from_mirror(
                            session, mirror, name, spec, part,
                            retries=retries, backoff=backoff, timeout=timeout, quiet=quiet,
                        )
                    except _MirrorFailed as exc:
                        tried.append(f"{mirror} ({exc})")
                        if exc.unreachable:
                            unreachable[mirror] = str(exc)
                        _note(quiet, f"{name}: {mirror} failed: {exc}")
                        continue
                    os.replace(part, final)
                    results[name] = FileResult(
                        name, final, digests[1], digests[2], digests[0], STATUS_DOWNLOADED, mirror
                    )
                    _note(quiet, f"{name}: downloaded from {mirror} ({digests[0]:,} bytes, checksums OK)")
                    break
                else:
                    failures.append(f"{name}: tried {len(tried)} mirror(s): " + "; ".join(tried))
        if failures:
            raise DownloadError(
                f"could not download {len(failures)} of {len(specs)} file(s) into {directory}:\n  "
                + "\n  ".join(failures)
            )
    return [results[name] for name in specs]


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
