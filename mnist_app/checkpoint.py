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

import json
import os
import zipfile
from pathlib import Path
from typing import Any

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


def _fail(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}")


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array in the archive, fully read (so CRC errors and truncation surface here)."""
    if not path.exists():
        raise _fail(path, "no such checkpoint file")
    if path.is_dir():
        raise _fail(path, "is a directory, not a checkpoint file")
    try:
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
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"not a readable .npz checkpoint (truncated or corrupt?): {_short(exc)}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise _fail(path, "is a single .npy array, not an mnist_app .npz checkpoint")
    try:
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise _fail(path, f"corrupt checkpoint (damaged array data): {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _parse_meta(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if "meta" not in arrays:
        raise _fail(path, "not an mnist_app checkpoint (no 'meta' entry)")
    raw = arrays["meta"]
    if raw.shape != () or raw.dtype.kind != "U":
        raise _fail(path, "not an mnist_app checkpoint ('meta' is not a JSON string)")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise _fail(path, f"corrupt checkpoint meta (bad JSON: {exc.msg})") from None
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
        raise _fail(path, f"bad layer sizes in checkpoint meta: {sizes!r}")
    if meta.get("dtype") not in DTYPES:
        raise _fail(path, f"bad dtype in checkpoint meta: {meta.get('dtype')!r} (expected one of {DTYPES})")
    return meta


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Only the validated JSON meta of a checkpoint (cheap look at sizes, config, history)."""
    path = Path(path)
    return _parse_meta(path, _read_archive(path))


def _check_array(path: Path, arrays: dict, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if name not in arrays:
        raise _fail(path, f"missing array {name!r}")
    array = arrays[name]
    if array.shape != shape:
        raise _fail(path, f"{name} has shape {array.shape}, expected {shape} for the layer sizes in its meta")
    if array.dtype != dtype:
        raise _fail(path, f"{name} has dtype {array.dtype}, expected {dtype.name}")
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
    arrays = _read_archive(path)
    meta = _parse_meta(path, arrays)
    sizes: list[int] = meta["sizes"]
    dtype = np.dtype(meta["dtype"])
    layers = len(sizes) - 1
    weights = [_check_array(path, arrays, f"weights_{l}", (sizes[l + 1], sizes[l]), dtype) for l in range(layers)]
    biases = [_check_array(path, arrays, f"biases_{l}", (sizes[l + 1],), dtype) for l in range(layers)]
    extra = sorted(
        name
        for name in arrays
        if name.startswith(("weights_", "biases_")) and name not in {f"weights_{l}" for l in range(layers)}
        and name not in {f"biases_{l}" for l in range(layers)}
    )
    if extra:
        raise _fail(path, f"has arrays {', '.join(extra)} beyond the {layers} layers its meta describes")
    velocities = None
    if "velocities_0" in arrays:
        shapes = [w.shape for w in weights] + [b.shape for b in biases]
        velocities = [_check_array(path, arrays, f"velocities_{i}", s, dtype) for i, s in enumerate(shapes)]

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
