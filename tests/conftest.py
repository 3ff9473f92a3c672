"""Shared fixtures: the real MNIST files, served over HTTP on 127.0.0.1.

The MNIST mirror is a folder holding the four canonical .gz files. It is found at
``$MNIST_TEST_MIRROR`` or, by default, ``../shared/mnist`` beside the checkout.
Without it, tests that need real MNIST are skipped with a reason -- unless
``MNIST_REQUIRE_MIRROR=1`` (set by .ci/run), where a missing mirror is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = REPO_ROOT.parent / "shared" / "mnist"
DIGITS_DEV = REPO_ROOT.parent / "shared" / "digits-dev"
NON_DIGITS_DEV = REPO_ROOT.parent / "shared" / "non-digits-dev"
MNIST_FILENAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from one directory, without request logging on stderr."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base-class signature
        pass


@contextlib.contextmanager
def serve_directory(directory: Path, handler: type = QuietHandler) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) and yield its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session", autouse=True)
def _hermetic_environment() -> Iterator[None]:
    """The user's own $MNIST_MIRROR / $MNIST_DATA_DIR must not change what the tests see
    (in this process or in the scripts the tests start); tests that need them set them."""
    saved = {name: os.environ.pop(name) for name in ("MNIST_MIRROR", "MNIST_DATA_DIR") if name in os.environ}
    yield
    os.environ.update(saved)


def _missing(reason: str) -> None:
    if os.environ.get("MNIST_REQUIRE_MIRROR") == "1":
        pytest.fail(f"{reason} (MNIST_REQUIRE_MIRROR=1, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_mirror_dir() -> Path:
    """The folder holding the four canonical MNIST .gz files."""
    directory = Path(os.environ.get("MNIST_TEST_MIRROR", DEFAULT_MIRROR))
    missing = [name for name in MNIST_FILENAMES if not (directory / name).is_file()]
    if missing:
        _missing(f"no MNIST mirror at {directory} (set MNIST_TEST_MIRROR to a folder with the four .gz files)")
    return directory


@pytest.fixture(scope="session")
def mnist_http_mirror(mnist_mirror_dir: Path) -> Iterator[str]:
    """The real MNIST files served over HTTP on 127.0.0.1."""
    with serve_directory(mnist_mirror_dir) as url:
        yield url


@pytest.fixture(scope="session")
def mnist_data_dir(mnist_http_mirror: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory filled by the real download path (HTTP, checksums) from the mirror."""
    from mnist_app.download import download_mnist

    data_dir = tmp_path_factory.mktemp("mnist-data")
    download_mnist(data_dir, mirrors=[mnist_http_mirror], quiet=True, use_default_mirrors=False)
    return data_dir


@pytest.fixture(scope="session")
def mnist(mnist_data_dir: Path):
    """The real MNIST arrays with the textbook split (see mnist_app.data.load_mnist)."""
    from mnist_app.data import load_mnist

    return load_mnist(mnist_data_dir, download=False)


@pytest.fixture(scope="session")
def digits_dev_dir() -> Path:
    """../shared/digits-dev: real non-MNIST handwriting saved as user PNGs."""
    directory = Path(os.environ.get("MNIST_TEST_DIGITS_DEV", DIGITS_DEV))
    if not (directory / "manifest.csv").is_file():
        _missing(f"no digits-dev set at {directory} (set MNIST_TEST_DIGITS_DEV)")
    return directory


@pytest.fixture(scope="session")
def quick_network(mnist):
    """784-30-10 trained on 10k MNIST images for 2 epochs of mini-batch SGD (about a second).

    Good enough (~90% test) for tests that need a real, trained network."""
    import numpy as np

    from mnist_app.fast_sgd import sgd_epoch
    from mnist_app.network import Network, one_hot

    net = Network((784, 30, 10), init="scaled", rng=0)
    rng = np.random.default_rng(0)
    X, Y = mnist.train_images[:10_000], one_hot(mnist.train_labels[:10_000])
    for _ in range(2):
        sgd_epoch(net, X, Y, 0.5, 10, order=rng.permutation(len(X)), cost="cross-entropy")
    return net


@pytest.fixture(scope="session")
def model_path(quick_network, tmp_path_factory) -> Path:
    """quick_network saved as a checkpoint file (for --model PATH)."""
    from mnist_app.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("model") / "quick.npz"
    save_checkpoint(path, quick_network, {"note": "test model"})
    return path


@pytest.fixture(scope="session")
def digit_dir(mnist, tmp_path_factory) -> Path:
    """12 MNIST test digits saved as user drawings: 10x upscaled, dark on white, off-centre,
    named '<label>_<i>.png'."""
    import numpy as np
    from PIL import Image

    directory = tmp_path_factory.mktemp("digits")
    for i in range(12):
        a = 255 - np.rint(mnist.test_images[i] * 255).astype(np.uint8).reshape(28, 28)
        canvas = Image.new("L", (330, 300), 255)
        canvas.paste(Image.fromarray(a).resize((280, 280), Image.Resampling.BILINEAR), (i * 4, 10))
        canvas.convert("RGB").save(directory / f"{mnist.test_labels[i]}_{i:02d}.png")
    return directory


@pytest.fixture(scope="session")
def non_digits_dev_dir() -> Path:
    """../shared/non-digits-dev: handwritten letters (not digits), manifest.csv with file,letter,digit_like."""
    default = NON_DIGITS_DEV
    if "MNIST_TEST_DIGITS_DEV" in os.environ:  # the two sets travel together (shared/digits-dev, shared/non-digits-dev)
        default = Path(os.environ["MNIST_TEST_DIGITS_DEV"]).parent / "non-digits-dev"
    directory = Path(os.environ.get("MNIST_TEST_NON_DIGITS_DEV", default))
    if not (directory / "manifest.csv").is_file():
        _missing(f"no non-digits-dev set at {directory} (set MNIST_TEST_NON_DIGITS_DEV)")
    return directory
