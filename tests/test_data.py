"""mnist_app.data: IDX parsing and validation on small generated files, then the real MNIST."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import serve_directory
from mnist_app.data import MNIST, load_images, load_labels, load_mnist, load_pair, read_idx
from mnist_app.download import MNIST_FILES
from mnist_app.errors import DataError


def idx(array: np.ndarray, type_code: int = 0x08, count: int | None = None) -> bytes:
    """Raw IDX bytes for ``array``; ``count`` overrides the first declared dimension."""
    shape = list(array.shape)
    if count is not None:
        shape[0] = count
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    return bytes([0, 0, type_code, array.ndim]) + np.array(shape, dtype=">u4").tobytes() + big_endian.tobytes()


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    return images, rng.integers(0, 10, size=12, dtype=np.uint8)


def write(path: Path, data: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --------------------------------------------------------------------------- valid files


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_images_and_labels_roundtrip(tmp_path, digits, compress):
    images, labels = digits
    # The name does not matter: gzip is recognised by its magic bytes 1f 8b.
    image_file = write(tmp_path / "images.idx", idx(images), compress)
    label_file = write(tmp_path / "labels.gz", idx(labels), compress)
    x = load_images(image_file)
    assert x.shape == (12, 784) and x.dtype == np.float32 and x.flags.c_contiguous
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x, images.reshape(12, 784).astype(np.float32) / np.float32(255))
    y = load_labels(label_file)
    assert y.dtype == np.uint8 and y.shape == (12,)
    np.testing.assert_array_equal(y, labels)
    x2, y2 = load_pair(image_file, label_file)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


def test_read_idx_other_types_and_byte_order(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    array = read_idx(write(tmp_path / "ints.idx", idx(values, 0x0C), compress=True))
    np.testing.assert_array_equal(array, values)
    assert array.dtype.isnative and array.flags.writeable
    floats = np.linspace(0, 1, 5, dtype=np.float64)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "f.idx", idx(floats, 0x0E))), floats)


# --------------------------------------------------------------------------- broken files


def assert_data_error(path: Path, loader, *fragments: str) -> None:
    with pytest.raises(DataError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_bad_magic(tmp_path, digits, compress):
    data = bytearray(idx(digits[0]))
    data[0:4] = b"\x89PNG"
    assert_data_error(write(tmp_path / "bad.gz", bytes(data), compress), load_images, "bad magic number 0x89504e47")


def test_unknown_type_code_is_bad_magic(tmp_path, digits):
    data = bytearray(idx(digits[0]))
    data[2] = 0x42
    assert_data_error(write(tmp_path / "t.idx", bytes(data)), read_idx, "bad magic")


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_truncated_data(tmp_path, digits, compress):
    data = idx(digits[0])[:-100]
    assert_data_error(write(tmp_path / "short", data, compress), load_images, "truncated", "(12, 28, 28)")


def test_truncated_header(tmp_path):
    assert_data_error(write(tmp_path / "h", b"\x00\x00\x08\x03\x00\x00"), load_images, "truncated IDX header")
    assert_data_error(write(tmp_path / "tiny", b"\x00\x00"), load_images, "too short")
    assert_data_error(write(tmp_path / "empty", b""), load_labels, "too short")


def test_declared_count_larger_than_data(tmp_path, digits):
    data = idx(digits[1], count=13)  # header says 13 labels, 12 follow
    assert_data_error(write(tmp_path / "count.gz", data, True), load_labels, "truncated", "(13,)", "only 12 bytes")


def test_declared_count_smaller_than_data(tmp_path, digits):
    data = idx(digits[0], count=10)  # header says 10 images, 12 follow
    assert_data_error(write(tmp_path / "count.gz", data, True), load_images, "unexpected bytes", "(10, 28, 28)")


def test_garbage_and_broken_gzip(tmp_path, digits):
    rng = np.random.default_rng(2)
    assert_data_error(write(tmp_path / "noise.gz", rng.bytes(5000)), load_images, "bad magic")
    assert_data_error(write(tmp_path / "html.gz", b"<html>404 Not Found</html>"), load_images, "bad magic")
    compressed = gzip.compress(idx(digits[0]))
    assert_data_error(write(tmp_path / "cut.gz", compressed[: len(compressed) // 2]), load_images, "gzip data is truncated")
    assert_data_error(write(tmp_path / "junk.gz", b"\x1f\x8b" + rng.bytes(3000)), load_images, "corrupt gzip")


def test_labels_out_of_range(tmp_path, digits):
    labels = digits[1].copy()
    labels[7] = 10
    assert_data_error(write(tmp_path / "labels.gz", idx(labels), True), load_labels, "label 10 at index 7", "0..9")


def test_images_and_labels_count_mismatch(tmp_path, digits):
    images = write(tmp_path / "images.gz", idx(digits[0]), True)
    labels = write(tmp_path / "labels.gz", idx(digits[1][:11]), True)
    with pytest.raises(DataError, match=r"images\.gz holds 12 images but .*labels\.gz holds 11 labels"):
        load_pair(images, labels)


def test_wrong_kind_of_idx_file(tmp_path, digits):
    images = write(tmp_path / "images.gz", idx(digits[0]), True)
    labels = write(tmp_path / "labels.gz", idx(digits[1]), True)
    assert_data_error(images, load_labels, "not an MNIST label file")
    assert_data_error(labels, load_images, "not an MNIST image file")
    small = write(tmp_path / "small.gz", idx(np.zeros((2, 8, 8), np.uint8)), True)
    assert_data_error(small, load_images, "8x8, expected 28x28")


def test_missing_file_and_directory(tmp_path):
    assert_data_error(tmp_path / "nope.gz", load_images, "no such file")
    assert_data_error(tmp_path, load_labels, "is a directory")


def test_load_mnist_without_data_and_without_download(tmp_path):
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte.gz.*scripts/download.py"):
        load_mnist(tmp_path, download=False)


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_split(mnist: MNIST):
    assert mnist.train_images.shape == (50_000, 784)
    assert mnist.validation_images.shape == (10_000, 784)
    assert mnist.test_images.shape == (10_000, 784)
    assert mnist.train_labels.shape == (50_000,) and mnist.validation_labels.shape == (10_000,)
    assert mnist.test_labels.shape == (10_000,)
    for images in (mnist.train_images, mnist.validation_images, mnist.test_images):
        assert images.dtype == np.float32 and images.flags.c_contiguous
        assert images.min() == 0.0 and images.max() == 1.0
    for labels in (mnist.train_labels, mnist.validation_labels, mnist.test_labels):
        assert labels.dtype == np.uint8 and labels.max() == 9 and labels.min() == 0
    assert mnist.checksums == {name: spec.sha256 for name, spec in MNIST_FILES.items()}


def test_real_mnist_label_counts(mnist: MNIST):
    training = np.concatenate([mnist.train_labels, mnist.validation_labels])
    assert len(training) == 60_000 and len(mnist.test_labels) == 10_000
    assert int((training == 0).sum()) == 5_923
    assert np.bincount(mnist.test_labels, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # The textbook split keeps the file order: training starts with the first digits of the file.
    assert mnist.train_labels[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.mark.slow
def test_load_mnist_downloads_missing_and_replaces_corrupt_files(tmp_path, mnist_mirror_dir, monkeypatch):
    monkeypatch.delenv("MNIST_MIRROR", raising=False)
    labels = "t10k-labels-idx1-ubyte.gz"
    for name in MNIST_FILES:
        if name != labels:
            shutil.copy(mnist_mirror_dir / name, tmp_path / name)
    with pytest.raises(DataError, match=f"missing {labels}"):
        load_mnist(tmp_path, download=False)

    corrupt = bytearray((mnist_mirror_dir / labels).read_bytes())
    corrupt[-1] ^= 0xFF
    (tmp_path / labels).write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match="SHA-256 .* is not the pinned MNIST checksum"):
        load_mnist(tmp_path, download=False)

    # Only our 127.0.0.1 mirror is needed: it is tried first and has every file.
    with serve_directory(mnist_mirror_dir) as url:
        data = load_mnist(tmp_path, [url], quiet=True)
    assert (tmp_path / labels).read_bytes() == (mnist_mirror_dir / labels).read_bytes()
    assert data.test_labels.shape == (10_000,)
