"""Checkpoints and model files: a network's parameters plus everything needed to continue training.

A checkpoint is an ordinary ``.npz`` archive (numpy's zip of ``.npy`` arrays), read and written
with ``allow_pickle=False`` so that loading a file can never run code. It holds:

    weights_0, weights_1, ...     weights[l], shape (sizes[l+1], sizes[l])  (Nielsen's layout)
    biases_0, biases_1, ...       biases[l],  shape (sizes[l+1],)
    velocities_0, ...             momentum buffers, if the network has any (weights first, then biases)
    meta                          a 0-d unicode array holding one JSON document

The JSON meta always carries ``format`` (= "mnist_app-checkpoint"), ``format_version``, ``sizes``
and ``dtype``; the trainer adds ``cost``, ``init``, ``epoch``, ``config`` (hyperparameters),
``rng_state`` (the numpy Generator's bit-generator state, so training can resume bit-for-bit),
``history`` and ``data_checksums``.

Writes are atomic (temporary file + rename, see :mod:`mnist_app.fileio`), so Ctrl-C or a crash
never leaves a half-written checkpoint under the final name. Loading checks everything and turns
any problem -- missing, truncated, corrupt, foreign, wrong version, wrong shapes -- into one
:class:`~mnist_app.errors.CheckpointError` line naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from mnist_app.errors import CheckpointError
from mnist_app.fileio import atomic_write
from mnist_app.network import DTYPES, Network

FORMAT = "mnist_app-checkpoint"
FORMAT_VERSION = 1

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "read_meta",
    "rng_state",
    "rng_from_state",
]


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's complete state as a JSON-compatible dict (``bit_generator.state``).

    Python's ``json`` keeps arbitrary-size integers exactly, so PCG64's 128-bit state survives
    a round trip through the checkpoint's meta document unchanged.
    """
    return json.loads(json.dumps(rng.bit_generator.state))


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A new Generator that continues exactly where the one ``state`` was taken from stopped."""
    try:
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad random-generator state: {exc}") from None
    return np.random.Generator(bit_generator)


def save_checkpoint(
    path: str | os.PathLike, network, meta: dict[str, Any] | None = None, *, momentum: bool = True
) -> None:
    """Write ``network`` and ``meta`` to ``path`` atomically as an ``.npz`` checkpoint.

    ``meta`` must be JSON-serialisable; ``format``, ``format_version``, ``sizes`` and ``dtype``
    are filled in from the network (and override any same-named keys in ``meta``).
    ``momentum=False`` leaves out the momentum buffers: a model for prediction (``best.npz``,
    the shipped model) needs only weights and biases, at half the size.
    """
    path = Path(path)
    dtype = np.dtype(network.dtype).name
    document = dict(meta or {})
    document.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        sizes=[int(s) for s in network.sizes],
        dtype=dtype,
    )
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(document, sort_keys=True))}
    for index, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"weights_{index}"] = np.ascontiguousarray(w)
        arrays[f"biases_{index}"] = np.ascontiguousarray(b)
    velocities = getattr(network, "velocities", None)
    if momentum and velocities is not None:
        for index, v in enumerate(velocities):
            arrays[f"velocities_{index}"] = np.ascontiguousarray(v)
    # The file name must end in .npz or np.savez appends it -- but we hand it an open file.
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def parameter_count(sizes) -> int:
    """Weights and biases of a network with these layer sizes: each layer's n_out x (n_in + 1)."""
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes, sizes[1:]))


def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}")


# Limits that keep a hostile file cheap to refuse. Every check below runs on the zip directory
# and the .npy headers, before any array is inflated, so a refusal costs milliseconds.
#: Largest network we load: 10 million parameters (40 MB as float32). The largest preset
#: (784-800-10) has 636,010, so this leaves 15x headroom.
MAX_PARAMETERS = 10_000_000
#: Deepest network we load. Textbook networks have 2-4 layers; the limit only bounds the work.
MAX_LAYERS = 10_000
#: Largest meta document (bytes of its .npy member: numpy stores text as 4 bytes a character).
MAX_META_BYTES = 16 << 20
#: A compressed member may inflate at most this many times its stored size (float weights
#: barely compress; a "bomb" of zeros inflates a thousandfold)...
MAX_INFLATION = 20
#: ...unless it is this small anyway.
SMALL_MEMBER = 1 << 20
#: Room for a .npy header (numpy refuses headers over 10,000 bytes since 1.24).
MAX_NPY_HEADER = 65_536
_MEMBER_NAME = re.compile(r"(meta|(weights|biases|velocities)_(0|[1-9][0-9]{0,5}))\.npy")
_READ_BLOCK = 1 << 20


class _Header(NamedTuple):
    """A checked .npy header: the array's shape, order and dtype; where its data starts."""

    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int
    count: int


class _Archive:
    """An open checkpoint zip whose directory has been checked: ``members`` maps each array
    name ("meta", "weights_0", ...) to its ZipInfo. Nothing has been inflated yet."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]):
        self.path, self.zip, self.members = path, archive, members

    def header(self, name: str, shape: tuple[int, ...] | None, dtype: np.dtype | None, max_bytes: int) -> _Header:
        """Check member ``name``'s size in the zip directory and its .npy header against
        ``shape``/``dtype`` (None accepts any) and ``max_bytes``. Inflates only the header."""
        info = self.members[name]
        _check_declared_size(self.path, info, max_bytes + MAX_NPY_HEADER)
        with self._reading(name) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise _fail(self.path, f"{name}: unsupported .npy version {version}")
            offset = member.tell()
        found_shape = tuple(found_shape)
        if found_dtype.hasobject:
            raise _fail(self.path, f"{name} holds Python objects (pickles are never loaded)")
        if dtype is not None and found_dtype != dtype:
            raise _fail(self.path, f"{name} has dtype {found_dtype}, expected {dtype.name}")
        if shape is not None and found_shape != shape:
            raise _fail(self.path, f"{name} has shape {found_shape}, expected {shape} for the layer sizes in its meta")
        count = int(np.prod(found_shape, dtype=np.int64)) if found_shape else 1
        nbytes = count * found_dtype.itemsize
        if nbytes > max_bytes:
            raise _fail(self.path, f"{name} declares {nbytes:,} bytes of data (more than {max_bytes:,})")
        if info.file_size != offset + nbytes:
            raise _fail(
                self.path,
                f"{name} is {info.file_size:,} bytes in the zip directory "
                f"but its .npy header declares {offset + nbytes:,}",
            )
        return _Header(found_shape, fortran, found_dtype, offset, count)

    def data(self, name: str, header: _Header) -> np.ndarray:
        """The array of a member whose ``header`` has been checked, read in 1 MB blocks."""
        array = np.empty(header.count, dtype=header.dtype)
        view = memoryview(array).cast("B")
        with self._reading(name) as member:
            member.read(header.offset)
            done = 0
            while done < len(view):
                block = member.read(min(_READ_BLOCK, len(view) - done))
                if not block:
                    raise _fail(self.path, f"{name} is truncated")
                view[done : done + len(block)] = block
                done += len(block)
            member.read(1)  # reach the end of the member, where zipfile checks its CRC
        if header.fortran and len(header.shape) > 1:
            return array.reshape(header.shape[::-1]).transpose()
        return array.reshape(header.shape)

    def read(self, name: str, shape: tuple[int, ...] | None, dtype: np.dtype | None, max_bytes: int) -> np.ndarray:
        return self.data(name, self.header(name, shape, dtype, max_bytes))

    @contextlib.contextmanager
    def _reading(self, name: str) -> Iterator[IO[bytes]]:
        """The member opened for reading; damage (bad CRC, truncation...) is a CheckpointError."""
        try:
            with self.zip.open(self.members[name]) as member:
                yield member
        except CheckpointError:
            raise
        except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error) as exc:
            raise _fail(self.path, f"corrupt checkpoint ({name}: {_short(exc)})") from None

    def close(self) -> None:
        self.zip.close()


def _check_declared_size(path: Path, info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse a member whose directory entry promises too much, before opening it."""
    name = info.filename.removesuffix(".npy")
    if info.flag_bits & 0x1:
        raise _fail(path, f"{name} is encrypted")
    if info.file_size > limit:
        raise _fail(path, f"{name} inflates to {info.file_size:,} bytes (more than its meta allows, {limit:,})")
    if info.file_size > SMALL_MEMBER and info.file_size > MAX_INFLATION * max(info.compress_size, 1):
        raise _fail(
            path,
            f"{name} inflates {info.file_size // max(info.compress_size, 1):,} times "
            f"({info.compress_size:,} -> {info.file_size:,} bytes): refused as a zip bomb",
        )


def _open_archive(path: Path) -> _Archive:
    """Open the zip and check its directory: only known member names, each once."""
    try:
        if not path.exists():
            raise _fail(path, "no such checkpoint file")
        if path.is_dir():
            raise _fail(path, "is a directory, not a checkpoint file")
        if not path.is_file():  # opening a named pipe waits for a writer; /dev/zero never ends
            raise _fail(path, "is not a regular file (a pipe or device?), not a checkpoint file")
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise _fail(path, f"cannot read checkpoint: {exc.strerror or exc}") from None
    if not magic:
        raise _fail(path, "empty file, not a checkpoint")
    if magic == b"\x93NUMPY":
        raise _fail(path, "is a single .npy array, not an mnist_app .npz checkpoint")
    if not magic.startswith(b"PK"):
        raise _fail(path, "not an .npz checkpoint (no zip signature; a foreign or corrupt file)")
    try:
        entries = _directory_entries(path)
        if entries is not None and entries > 3 * MAX_LAYERS + 1:
            raise _fail(
                path, f"zip directory lists {entries:,} members (a checkpoint has at most {3 * MAX_LAYERS + 1:,})"
            )
        archive = zipfile.ZipFile(path)
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise _fail(path, f"not a readable .npz checkpoint (truncated or corrupt?): {_short(exc)}") from None
    try:
        members: dict[str, zipfile.ZipInfo] = {}
        unknown: list[str] = []
        for info in archive.infolist():
            if not _MEMBER_NAME.fullmatch(info.filename):
                unknown.append(info.filename)
            elif info.filename[:-4] in members:
                raise _fail(path, f"member {info.filename!r} appears twice in the archive")
            else:
                members[info.filename[:-4]] = info
        if unknown:
            shown = ", ".join(repr(n[:40]) for n in unknown[:3])
            if len(unknown) > 3:
                shown += f" and {len(unknown) - 3} more"
            if "meta" not in members:
                raise _fail(path, f"not an mnist_app checkpoint (no 'meta' entry; holds {shown})")
            raise _fail(path, f"has members that are not part of a checkpoint: {shown}")
        if "meta" not in members:
            raise _fail(path, "not an mnist_app checkpoint (no 'meta' entry)")
    except BaseException:
        archive.close()
        raise
    return _Archive(path, archive, members)


def _directory_entries(path: Path) -> int | None:
    """The member count from the zip's end record, read before zipfile parses the whole
    directory (which costs ~0.5 kB of memory per entry). None if it cannot be read here."""
    find_end = getattr(zipfile, "_EndRecData", None)  # private, but unchanged since Python 2
    if find_end is None:
        return None
    with open(path, "rb") as handle:
        end = find_end(handle)
    return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _read_meta(archive: _Archive) -> dict[str, Any]:
    path = archive.path
    raw = archive.read("meta", None, None, MAX_META_BYTES)
    if raw.shape != () or raw.dtype.kind != "U":
        raise _fail(path, "not an mnist_app checkpoint ('meta' is not a JSON string)")
    try:
        meta = json.loads(str(raw[()]))
    except RecursionError:
        raise _fail(path, "corrupt checkpoint meta (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise _fail(path, f"corrupt checkpoint meta (bad JSON: {getattr(exc, 'msg', None) or _short(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"not an mnist_app checkpoint (format is not {FORMAT!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(path, f"unsupported checkpoint format version {version!r} (this mnist_app reads {FORMAT_VERSION})")
    sizes = meta.get("sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise _fail(path, f"bad layer sizes in checkpoint meta: {_clip(sizes)}")
    if len(sizes) - 1 > MAX_LAYERS:
        raise _fail(path, f"meta declares {len(sizes) - 1:,} layers (this mnist_app loads at most {MAX_LAYERS:,})")
    parameters = parameter_count(sizes)
    if parameters > MAX_PARAMETERS:
        raise _fail(
            path, f"meta declares {parameters:,} parameters (this mnist_app loads at most {MAX_PARAMETERS:,})"
        )
    if meta.get("dtype") not in DTYPES:
        raise _fail(path, f"bad dtype in checkpoint meta: {_clip(meta.get('dtype'))} (expected one of {DTYPES})")
    return meta


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Only the validated JSON meta of a checkpoint (cheap look at sizes, config, history)."""
    path = Path(path)
    archive = _open_archive(path)
    try:
        return _read_meta(archive)
    finally:
        archive.close()


def _check_members(archive: _Archive, layers: int) -> bool:
    """Every weights/biases member the meta's layers need, nothing beyond; velocities all or
    none. Returns whether velocities are present. Linear in the number of layers."""
    path, members = archive.path, archive.members
    for l in range(layers):
        for kind in ("weights", "biases"):
            if f"{kind}_{l}" not in members:
                raise _fail(path, f"missing array '{kind}_{l}'")
    n_velocities = 2 * layers
    extra = []
    velocities = 0
    for name in members:
        if name == "meta":
            continue
        kind, _, index = name.rpartition("_")
        limit = n_velocities if kind == "velocities" else layers
        if int(index) >= limit:
            extra.append(name)
        elif kind == "velocities":
            velocities += 1
    if extra:
        extra.sort(key=lambda n: (n.rpartition("_")[0], int(n.rpartition("_")[2])))
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise _fail(path, f"has arrays {shown} beyond the {layers} layers its meta describes")
    if velocities not in (0, n_velocities):
        raise _fail(path, f"has {velocities} momentum arrays (velocities_*), expected 0 or {n_velocities}")
    return velocities > 0


def _finite(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise _fail(path, f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(array)


def load_checkpoint(path: str | os.PathLike):
    """Read a checkpoint written by :func:`save_checkpoint`; return ``(network, meta)``.

    Raises :class:`CheckpointError` (one line, naming the file) for a missing, truncated, corrupt
    or foreign file, an unsupported format version, or arrays that disagree with the recorded
    layer sizes and dtype.
    """
    path = Path(path)
    archive = _open_archive(path)
    try:
        meta = _read_meta(archive)
        sizes: list[int] = meta["sizes"]
        dtype = np.dtype(meta["dtype"])
        layers = len(sizes) - 1
        has_velocities = _check_members(archive, layers)
        shapes = [(sizes[l + 1], sizes[l]) for l in range(layers)] + [(sizes[l + 1],) for l in range(layers)]
        names = [f"weights_{l}" for l in range(layers)] + [f"biases_{l}" for l in range(layers)]
        if has_velocities:
            names += [f"velocities_{i}" for i in range(2 * layers)]
            shapes += shapes
        limits = [int(np.prod(shape)) * dtype.itemsize for shape in shapes]
        # First the zip directory's promises for every member, then every .npy header against
        # the meta; array data is inflated only after all of them passed.
        for name, nbytes in zip(names, limits):
            _check_declared_size(path, archive.members[name], nbytes + MAX_NPY_HEADER)
        headers = [archive.header(name, shape, dtype, nbytes) for name, shape, nbytes in zip(names, shapes, limits)]
        arrays = [_finite(path, name, archive.data(name, header)) for name, header in zip(names, headers)]
    finally:
        archive.close()
    weights, biases = arrays[:layers], arrays[layers : 2 * layers]
    velocities = arrays[2 * layers :] or None

    init = meta.get("init", "textbook")
    try:
        # rng=0: the random initial values are thrown away at once, replaced by the stored ones.
        network = Network(tuple(sizes), init=init if isinstance(init, str) else "textbook", dtype=dtype.name, rng=0)
    except (ValueError, TypeError) as exc:
        raise _fail(path, f"cannot build a network from its meta: {_short(exc)}") from None
    network.weights = weights
    network.biases = biases
    network.velocities = velocities
    return network, meta
