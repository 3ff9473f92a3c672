"""Hostile checkpoints made on purpose: zip bombs, lying ``.npy`` headers, foreign members.

``checkpoint.load_checkpoint`` must refuse such files before it inflates anything; the tests
(tests/test_checkpoint.py) and the timing script (scripts/bench_hostile_checkpoints.py, figures in
docs/hardening.md) build them with these helpers, so both attack the loader the same way.
Measurement code: nothing in the product imports it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (what ``np.savez`` stores per member)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """Only the header of a ``.npy`` file (magic string included) claiming ``shape`` and ``descr``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def zeros_member(archive: zipfile.ZipFile, name: str, header: bytes, data_bytes: int) -> None:
    """A deflated member of ``header`` + ``data_bytes`` zeros: a zip bomb (zeros deflate about
    1000:1), written in 1 MB blocks so that building a 2 GB one takes little memory."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    block = bytes(1 << 20)
    with archive.open(info, "w", force_zip64=True) as member:
        member.write(header)
        while data_bytes > 0:
            member.write(block[: min(data_bytes, len(block))])
            data_bytes -= len(block)


def rewrite(source: Path, target: Path, replace: dict[str, bytes | None] | None = None,
            extra: Callable[[zipfile.ZipFile], object] | None = None) -> Path:
    """Copy the checkpoint ``source`` to ``target`` member by member: ``replace`` maps a member
    name to new bytes (None drops it); ``extra(archive)`` then adds members. Returns ``target``."""
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename not in replace:
                new.writestr(info, old.read(info))
            elif replace[info.filename] is not None:
                new.writestr(info.filename, replace[info.filename])
        if extra:
            extra(new)
    return target
