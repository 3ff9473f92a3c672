"""Read MNIST's IDX files into numpy arrays, and the textbook train/validation/test split.

The IDX format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS") is tiny:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 unsigned byte (MNIST), 0x09 signed byte, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64 -- all big-endian
    byte  3     number of dimensions D (3 for images: N x 28 x 28; 1 for labels: N)
    then        D big-endian uint32 sizes, then the elements, row-major

So images start with the magic number 0x00000803 and labels with 0x00000801. The files are
usually gzip-compressed; we recognise gzip by its own magic bytes (1f 8b), not by the name.
Parsing is one ``gzip.decompress`` plus ``np.frombuffer`` -- no Python loop per pixel -- and
every inconsistency raises :class:`~mnist_app.errors.DataError` naming the file.

The split follows the textbook (Nielsen, "Neural Networks and Deep Learning", ch. 1): of the
60,000 MNIST training images the first 50,000 train the network and the last 10,000 are the
validation set; the 10,000 t10k images are the test set.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_app.errors import DataError
from mnist_app.image_format import N_CLASSES, N_PIXELS, SIDE

#: IDX element type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
IMAGE_SHAPE = (SIDE, SIDE)

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
N_TRAIN = 50_000  # the rest of the 60,000 training images is the validation set


# --------------------------------------------------------------------------- IDX parsing


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not an IDX file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _decompress(raw: bytes, path: Path) -> bytes:
    """gunzip if the bytes start with the gzip magic 1f 8b; raw IDX otherwise."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path}: gzip data is truncated (file ends before the end of the stream)") from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt gzip data ({exc})") from None


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Validate an uncompressed IDX buffer; return a read-only view of it in the declared shape."""
    if len(data) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataError(
            f"{path}: bad magic number 0x{data[:4].hex()} (not an IDX file: expected 0x0000 then a "
            "type code such as 0x08, e.g. 0x00000803 for images)"
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, need {header} for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual < expected:
        raise DataError(
            f"{path}: truncated: header declares shape {shape} ({expected} data bytes) "
            f"but only {actual} bytes follow"
        )
    if actual > expected:
        raise DataError(
            f"{path}: {actual - expected} unexpected bytes after the data declared by the header "
            f"(shape {shape}); wrong count in the header?"
        )
    return np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip-compressed or raw IDX file into a writable array of native byte order.

    Raises DataError naming the file for: unreadable file, corrupt or truncated gzip, bad magic
    number, truncated header, fewer or more data bytes than the header declares.
    """
    path = Path(path)
    array = _parse_idx(_decompress(_read_bytes(path), path), path)
    return array.astype(array.dtype.newbyteorder("="), copy=True)


# --------------------------------------------------------------------------- images and labels


def _parse_unsigned_bytes(data: bytes, path: Path, ndim: int, kind: str, shape: str) -> np.ndarray:
    """The IDX array in ``data``, or DataError unless it is uint8 with ``ndim`` dimensions."""
    raw = _parse_idx(data, path)
    if raw.dtype != np.uint8 or raw.ndim != ndim:
        raise DataError(
            f"{path}: not an MNIST {kind} file: expected unsigned bytes of shape {shape}, "
            f"got {raw.dtype} of shape {raw.shape}"
        )
    return raw


def _images_from_buffer(data: bytes, path: Path) -> np.ndarray:
    raw = _parse_unsigned_bytes(data, path, 3, "image", "(N, 28, 28)")
    if raw.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{path}: images are {raw.shape[1]}x{raw.shape[2]}, expected 28x28")
    # One vectorised pass: uint8 -> float32 / 255 straight into a C-contiguous result.
    # (Division, not multiplication by 1/255, so 255 maps to exactly 1.0.)
    images = np.empty((raw.shape[0], N_PIXELS), dtype=np.float32)
    np.divide(raw.reshape(raw.shape[0], N_PIXELS), np.float32(255.0), out=images)
    return images


def _labels_from_buffer(data: bytes, path: Path) -> np.ndarray:
    raw = _parse_unsigned_bytes(data, path, 1, "label", "(N,)")
    if raw.size and int(raw.max()) >= N_CLASSES:
        bad = int(np.argmax(raw >= N_CLASSES))
        raise DataError(f"{path}: label {int(raw[bad])} at index {bad} is outside 0..9")
    return raw.copy()


def load_images(path: str | os.PathLike) -> np.ndarray:
    """MNIST images as a C-contiguous (N, 784) float32 array in [0, 1] (0 = background)."""
    path = Path(path)
    return _images_from_buffer(_decompress(_read_bytes(path), path), path)


def load_labels(path: str | os.PathLike) -> np.ndarray:
    """MNIST labels as an (N,) uint8 array with values 0..9."""
    path = Path(path)
    return _labels_from_buffer(_decompress(_read_bytes(path), path), path)


def load_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels that belong together; DataError if their counts differ."""
    images, labels = load_images(images_path), load_labels(labels_path)
    _check_pair(images, labels, Path(images_path), Path(labels_path))
    return images, labels


def _check_pair(images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )


# --------------------------------------------------------------------------- the MNIST data set


@dataclass(frozen=True)
class MNIST:
    """The textbook split of MNIST. Images (N, 784) float32 in [0, 1]; labels (N,) uint8.

    ``train``: first 50,000 of the training file; ``validation``: its last 10,000;
    ``test``: the 10,000 t10k images. ``checksums`` maps each source file name to the SHA-256
    of the bytes the arrays were parsed from (record it with a trained model).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    checksums: dict[str, str] = field(default_factory=dict)


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    mirrors=(),
    *,
    quiet: bool = False,
    download: bool = True,
    use_default_mirrors: bool = True,
) -> MNIST:
    """Load MNIST from ``data_dir`` (default: the downloader's), downloading it first if needed.

    With ``download=True`` missing files -- and files whose SHA-256 is not the pinned one --
    are fetched through :func:`mnist_app.download.download_mnist` with ``mirrors`` (and the
    public mirrors after them unless ``use_default_mirrors=False``; a run with
    every file present and correct makes no network request). With ``download=False`` either
    case is a DataError that says how to get the files.
    """
    from mnist_app.download import MNIST_FILES, default_data_dir, download_mnist

    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    hint = f"run 'python scripts/download.py --data-dir {directory}'"
    missing = [name for name in MNIST_FILES if not (directory / name).is_file()]
    if missing:
        if not download:
            raise DataError(f"MNIST not found in {directory}: missing {', '.join(missing)}; {hint}")
        download_mnist(directory, mirrors, quiet=quiet, use_default_mirrors=use_default_mirrors)

    raw: dict[str, bytes] = {}
    checksums: dict[str, str] = {}
    for attempt in range(2):
        bad = []
        for name, spec in MNIST_FILES.items():
            if name not in raw:
                raw[name] = _read_bytes(directory / name)
                checksums[name] = hashlib.sha256(raw[name]).hexdigest()
            if checksums[name] != spec.sha256:
                bad.append(name)
        if not bad:
            break
        if not download or attempt:
            raise DataError(
                f"{directory / bad[0]}: SHA-256 {checksums[bad[0]]} is not the pinned MNIST checksum "
                f"{MNIST_FILES[bad[0]].sha256} (corrupt or a different file); move it away and {hint}"
            )
        for name in bad:  # the downloader fetches verified copies and moves the wrong files aside (NAME.bad-<sha8>)
            del raw[name]
        download_mnist(directory, mirrors, quiet=quiet, use_default_mirrors=use_default_mirrors)

    arrays = {}
    for name, data in raw.items():
        path = directory / name
        parse = _images_from_buffer if "images" in name else _labels_from_buffer
        arrays[name] = parse(_decompress(data, path), path)
    train_images, train_labels = arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]
    test_images, test_labels = arrays[TEST_IMAGES], arrays[TEST_LABELS]
    _check_pair(train_images, train_labels, directory / TRAIN_IMAGES, directory / TRAIN_LABELS)
    _check_pair(test_images, test_labels, directory / TEST_IMAGES, directory / TEST_LABELS)
    return MNIST(
        train_images=train_images[:N_TRAIN],
        train_labels=train_labels[:N_TRAIN],
        validation_images=train_images[N_TRAIN:],
        validation_labels=train_labels[N_TRAIN:],
        test_images=test_images,
        test_labels=test_labels,
        checksums=checksums,
    )


__all__ = ["MNIST", "load_images", "load_labels", "load_mnist", "load_pair", "read_idx"]
