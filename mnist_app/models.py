"""Which model answers: model names, where each lives, and a one-line description of it.

Every command that classifies takes ``--model SPEC``:

    shipped    the model that comes with mnist_app (package data: mnist_app/shipped/shipped.npz)
    best       ./models/best.npz: the best epoch of the training run in this directory
    personal   ./models/personal.npz: the shipped model fine-tuned on your own digits
    last       ./models/last.npz: the last epoch of the training run in this directory
    PATH       any checkpoint file (write ./best to mean a file called "best")

Without ``--model`` the network you just trained answers (the textbook's promise): ``best`` if
./models/best.npz exists, else ``shipped``. When that trained network is weaker than the shipped
one on MNIST test, :attr:`ModelInfo.advice` says so, for the command line to print once.

Use :func:`load`; it returns ``(network, meta, info)`` and raises one CheckpointError line naming
the file for anything missing, corrupt or not shaped like a digit classifier (784 in, 10 out).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_app.errors import CheckpointError
from mnist_app.image_format import N_CLASSES, N_PIXELS

SHIPPED, BEST, PERSONAL, LAST = "shipped", "best", "personal", "last"
MODEL_DIR = Path("models")  # training output, relative to the current directory
LOCAL_FILES = {BEST: MODEL_DIR / "best.npz", PERSONAL: MODEL_DIR / "personal.npz", LAST: MODEL_DIR / "last.npz"}
NAMES = (SHIPPED, BEST, PERSONAL, LAST)
ORIGINS = {
    SHIPPED: "shipped with mnist_app",
    BEST: "trained here",
    PERSONAL: "fine-tuned here on your digits",
    LAST: "last epoch trained here",
}
SHIPPED_DISPLAY = "mnist_app/shipped/shipped.npz"  # how the shipped file is named in messages
SPEC_HELP = (
    "model to use: 'shipped' (comes with mnist_app), 'best' (models/best.npz, trained here), "
    "'personal' (models/personal.npz, fine-tuned), 'last' (models/last.npz) or a checkpoint path "
    "(default: models/best.npz if present, else shipped)"
)


def architecture(sizes: Sequence[int], shown: int = 8) -> str:
    """Layer sizes as ``784-30-10``; beyond ``shown`` layers the first and last few and the count."""
    if len(sizes) <= shown:
        return "-".join(str(s) for s in sizes)
    head, tail = sizes[: shown // 2], sizes[-(shown // 2):]
    return f"{'-'.join(map(str, head))}-...-{'-'.join(map(str, tail))}, {len(sizes):,} layers"


@dataclass(frozen=True)
class ModelInfo:
    """What a user needs to know about the model that answered."""

    name: str | None  # one of NAMES, or None for a path given by hand
    path: Path  # the checkpoint file read
    sizes: tuple[int, ...]
    mnist_test_accuracy: float | None  # fraction in [0, 1], from the card or training history
    origin: str | None  # "trained here", "shipped with mnist_app", ...
    advice: str | None = None  # set when the default picked a model weaker than the shipped one
    members: int = 1  # networks merged into this one (mnist_app.merge); 1 for an ordinary network

    @property
    def architecture(self) -> str:
        """``784-30-10``; a deep network is shortened (``784-1-1-...-1-10, 6,002 layers``), so the
        model line stays one readable line whatever checkpoint it names."""
        return architecture(self.sizes)

    @property
    def display_path(self) -> str:
        """The path as a user would type it: relative to the current directory when inside it."""
        if self.name == SHIPPED:
            return SHIPPED_DISPLAY
        return _relative(self.path)

    def describe(self) -> str:
        """``models/best.npz (784-30-10, 94.9% MNIST test, trained here)``; a merged model says
        so: ``(784-1600-10: 2 networks merged, ...)``."""
        parts = [self.architecture + (f": {self.members} networks merged" if self.members > 1 else "")]
        if self.mnist_test_accuracy is not None:
            parts.append(f"{self.mnist_test_accuracy:.1%} MNIST test")
        if self.origin:
            parts.append(self.origin)
        return f"{self.display_path} ({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        """The ``"model"`` object every JSON answer carries."""
        return {
            "name": self.name,
            "path": str(self.path),
            "sizes": list(self.sizes),
            "mnist_test_accuracy": self.mnist_test_accuracy,
            "origin": self.origin,
            "members": self.members,
            "description": self.describe(),
        }


def shipped_file(name: str) -> Path:
    """A file of mnist_app/shipped inside the installed package (a wheel or ``pip install .``
    carries them): the model, its card, the not-a-digit check, the unsure thresholds."""
    return Path(str(resources.files("mnist_app").joinpath("shipped", name)))


def shipped_path() -> Path:
    """The shipped checkpoint."""
    return shipped_file("shipped.npz")


def shipped_card() -> dict[str, Any]:
    """The shipped model's card (shipped.json: how it was trained, what it scores)."""
    text = resources.files("mnist_app").joinpath("shipped", "shipped.json").read_text(encoding="utf-8")
    return json.loads(text)


def shipped_accuracy() -> float | None:
    """The shipped model's MNIST test accuracy from its card (None if the card lacks it)."""
    try:
        value = shipped_card()["results"]["mnist_test_accuracy"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _relative(path: Path) -> str:
    try:
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _is_file(path: Path) -> bool:
    """``Path.is_file`` that reports an unsearchable folder as one CheckpointError line."""
    try:
        return path.is_file()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot look at this path ({exc.strerror or exc})") from None


def resolve(spec: str | os.PathLike | None, cwd: str | os.PathLike | None = None) -> tuple[str | None, Path]:
    """``(name, path)`` for a ``--model`` spec; None means the default (best here, else shipped).

    Does not check that the file exists, except to pick the default.
    """
    base = Path(cwd) if cwd is not None else Path()
    if spec is None:
        best = base / LOCAL_FILES[BEST]
        return (BEST, best) if _is_file(best) else (SHIPPED, shipped_path())
    text = os.fspath(spec)
    if text == SHIPPED:
        return SHIPPED, shipped_path()
    if text in LOCAL_FILES:
        return text, base / LOCAL_FILES[text]
    return None, Path(text)


def _accuracy_from_history(meta: dict[str, Any]) -> float | None:
    """Test accuracy of the epoch a trainer's checkpoint holds (its meta carries the history)."""
    history, epoch = meta.get("history"), meta.get("epoch")
    if not isinstance(history, list) or not isinstance(epoch, int):
        return None
    for record in history:
        if isinstance(record, dict) and record.get("epoch") == epoch:
            value = record.get("test_accuracy")
            return float(value) if isinstance(value, (int, float)) and 0 <= value <= 1 else None
    return None


def mnist_test_accuracy(name: str | None, path: Path, meta: dict[str, Any]) -> float | None:
    """The model's MNIST test accuracy when known: ``meta["mnist_test_accuracy"]`` (e.g. written by
    a fine-tune), the shipped card, or the training history stored in the checkpoint."""
    value = meta.get("mnist_test_accuracy")
    if isinstance(value, (int, float)) and 0 <= value <= 1:
        return float(value)
    if name == SHIPPED:
        return shipped_accuracy()
    return _accuracy_from_history(meta)


def _missing(name: str | None, path: Path) -> CheckpointError:
    if name == BEST or name == LAST:
        hint = "no training run here yet: train one with scripts/train.py, or use --model shipped"
    elif name == PERSONAL:
        hint = "no personal model here yet: fine-tune one on your own digits first, or use --model shipped"
    elif name == SHIPPED:
        hint = "the shipped model is missing from this installation (reinstall mnist_app)"
    else:
        hint = f"no such model file (names: {', '.join(NAMES)})"
    return CheckpointError(f"{path}: {hint}")


def load(spec: str | os.PathLike | None = None, cwd: str | os.PathLike | None = None):
    """Load the model ``spec`` names (see the module docstring); return ``(network, meta, info)``."""
    from mnist_app.checkpoint import load_checkpoint
    from mnist_app.merge import member_count

    name, path = resolve(spec, cwd)
    if not _is_file(path):
        try:
            exists = path.exists()
        except OSError:
            exists = False
        if not exists:
            raise _missing(name, path)
    network, meta = load_checkpoint(path)  # a directory or a bad file: its own one-line error
    sizes = tuple(int(s) for s in network.sizes)
    if sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES:
        raise CheckpointError(
            f"{path}: wrong shape for a digit classifier: layer sizes {architecture(sizes)} "
            f"(need {N_PIXELS} inputs and {N_CLASSES} outputs)"
        )
    info = ModelInfo(
        name=name,
        path=path,
        sizes=sizes,
        mnist_test_accuracy=mnist_test_accuracy(name, path, meta),
        origin=ORIGINS.get(name) if name else None,
        members=member_count(meta),
    )
    if spec is None and name != SHIPPED:
        info = _with_advice(info)
    return network, meta, info


def _with_advice(info: ModelInfo) -> ModelInfo:
    shipped = shipped_accuracy()
    mine = info.mnist_test_accuracy
    if shipped is None or mine is None or round(mine, 3) >= round(shipped, 3):
        return info
    advice = f"using {info.describe()}; the shipped model scores {shipped:.1%}: add --model shipped"
    return ModelInfo(**{**info.__dict__, "advice": advice})


def announcement(info: ModelInfo) -> str:
    """The one stderr line naming the model: the advice when there is one, else ``model: ...``."""
    return f"model: {info.advice}" if info.advice else f"model: {info.describe()}"
