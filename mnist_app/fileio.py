"""Safe files: atomic writes, folder locks, and cleaning up after killed processes.

Atomic writing: write to a temporary file beside the target, then rename. A reader (or a crash,
or Ctrl-C) never sees a half-written file under the final name, because os.replace is atomic on
the same file system. Any operating-system failure on the way (no such folder, no permission, disk
full, the name is a directory) becomes one OutputError line naming the file, not a traceback.
Only a process killed outright leaves its temporary behind; :func:`remove_stale_temporaries`
clears those. :func:`lock_directory` keeps two processes from writing one folder at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from mnist_app.errors import BusyError, OutputError


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write here ({exc.strerror or exc})")


def ensure_directory(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) if needed and check that files can be created in it."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise _cannot_write(directory, exc) from None
    return directory


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync and rename it into place.

    On any exception the temporary file is removed and ``path`` is left untouched; an OSError
    (from the writer or from us) is reported as an OutputError naming ``path``.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target}: is a directory; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # see temporary_name_pattern
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates files readable by the owner only; give the result the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise


def temporary_name_pattern(name: str) -> str:
    """The glob matching :func:`atomic_write`'s temporaries for a file called ``name``."""
    return f".{name}.*.tmp"


def remove_stale_temporaries(directory: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Delete temporaries that :func:`atomic_write` left for ``names`` in ``directory``.

    Only a process killed outright (kill -9, power loss) leaves one behind. The caller must hold
    the folder's lock (:func:`lock_directory`), so no live writer can own them. Returns what was removed.
    """
    removed = []
    for name in names:
        for stale in Path(directory).glob(temporary_name_pattern(name)):
            with contextlib.suppress(OSError):
                stale.unlink()
                removed.append(stale)
    return removed


LOCK_NAME = ".lock"


@contextlib.contextmanager
def lock_directory(
    directory: str | os.PathLike, *, wait: bool = False, name: str = LOCK_NAME
) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (an advisory ``flock`` on ``directory/name``).

    Without ``wait``, a folder another process holds raises :class:`BusyError` at once, naming that
    process. The operating system releases the lock when the holder exits, however it exits
    (kill -9 included), so a stale lock never needs cleaning up; the lock file itself stays (deleting
    it would let a third process lock a fresh file while a second still waits on the old one).
    Where ``fcntl`` does not exist (Windows), ``msvcrt.locking`` does the same job.
    """
    directory = Path(directory)
    path = directory / name
    try:
        handle = open(path, "a+")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    with handle:
        try:
            _lock(handle, wait)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(32).strip()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise BusyError(f"{directory}: in use by another process{who}") from None
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        # Who holds it, for the message above (informative only: the lock is the flock).
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
                handle.flush()
            _unlock(handle)


try:
    import fcntl

    def _lock(handle: IO, wait: bool) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))

    def _unlock(handle: IO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _lock(handle: IO, wait: bool) -> None:
        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not wait:
                    raise BlockingIOError from None
                time.sleep(0.1)

    def _unlock(handle: IO) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


def copy_atomically(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy ``source`` to ``target`` so that ``target`` is always either the old or the new file."""
    try:
        with open(source, "rb") as reader, atomic_write(target, "wb") as writer:
            shutil.copyfileobj(reader, writer)
    except OSError as exc:
        raise OutputError(f"{source}: cannot read ({exc.strerror or exc})") from None
