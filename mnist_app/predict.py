"""Network output -> digit, confidence and the runners-up.

The textbook network's output layer is ten sigmoid neurons, each in (0, 1) and independent:
they need not sum to 1. To report something readable we *normalise* them,
``p_j = a_j / sum_k a_k``, and call ``p`` the probabilities; the digit is the argmax (the same
rule as ``Network.predict``, the book's "the neuron with the highest activation") and the
confidence is its share ``p_digit``.

Which model answers (``--model shipped|best|personal|last|PATH`` and the default) is
:mod:`mnist_app.models`' concern; :func:`load_model` is its short form.

Importing this module is light on purpose (numpy + Pillow; no matplotlib, requests or tqdm), so
``python scripts/predict.py one.png`` starts fast.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_app.errors import MnistAppError
from mnist_app.image_format import N_PIXELS
from mnist_app.number import as_number, confidence_judge
from mnist_app.preprocess import is_image_file, prepare_all
from mnist_app.unsure import unsure_reasons


def load_model(spec: str | os.PathLike | None = None):
    """``(network, meta)`` of the model ``spec`` names (see mnist_app.models.load, which also
    gives the ModelInfo that names it). CheckpointError (one line) if missing, corrupt or the
    wrong shape for MNIST digits."""
    from mnist_app.models import load

    network, meta, _info = load(spec)
    return network, meta


@dataclass(frozen=True)
class Prediction:
    """One image's answer. ``error`` is set (and digit None) when the image could not be read."""

    file: str
    digit: int | None
    confidence: float | None
    probabilities: tuple[float, ...] | None  # 10 normalised outputs, summing to 1
    error: str | None = None
    # True when the answer should not be trusted (mnist_app.unsure): low confidence, or ink that
    # does not look like a digit; the reason is a short phrase for people
    unsure: bool = False
    unsure_reason: str | None = None
    # the 784 values the network saw (28x28 row-major); not part of the JSON output
    input: np.ndarray | None = field(default=None, repr=False, compare=False)
    # an image of several digits (mnist_app.number): the number read and each digit (digit None)
    number: str | None = None
    digits: tuple | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The k most probable digits, best first."""
        if self.probabilities is None:
            return []
        order = np.argsort(-np.asarray(self.probabilities), kind="stable")[:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def to_json(self) -> dict:
        """``{"file", "digit", "confidence", "probabilities", "unsure", "unsure_reason", "error"}``
        (JSON-ready)."""
        return {
            "file": self.file,
            "digit": self.digit,
            "confidence": self.confidence,
            "probabilities": list(self.probabilities) if self.probabilities is not None else None,
            "unsure": self.unsure,
            "unsure_reason": self.unsure_reason,
            "error": self.error,
            **({"number": self.number, "digits": [d.to_json() for d in self.digits]} if self.number else {}),
        }


def normalise(outputs: np.ndarray) -> np.ndarray:
    """Sigmoid outputs (N, 10) -> rows summing to 1 (float64). All-zero rows -> uniform."""
    a = np.asarray(outputs, dtype=np.float64)
    total = a.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, a / np.where(total > 0, total, 1.0), 1.0 / a.shape[1])
    return p


def _from_outputs(file: str, p: np.ndarray, x: np.ndarray, reason: str | None) -> Prediction:
    digit = int(np.argmax(p))  # the first of equal maxima, as top() orders them
    return Prediction(
        file=file,
        digit=digit,
        confidence=float(p[digit]),
        probabilities=tuple(float(v) for v in p),
        error=None,
        unsure=reason is not None,
        unsure_reason=reason,
        input=x,
    )


def classify_many(network, X, files: Sequence[str] | None = None) -> list[Prediction]:
    """Classify the rows of X (N, 784) with ONE network call; ``files`` names them."""
    X = np.asarray(X, dtype=network.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.shape[1] != N_PIXELS:
        raise ValueError(f"expected rows of {N_PIXELS} values, got shape {X.shape}")
    if files is None:
        files = [""] * X.shape[0]
    if X.shape[0] == 0:
        return []
    outputs = network.feedforward(np.ascontiguousarray(X))
    probs = normalise(outputs)
    reasons = unsure_reasons(outputs, X)
    return [_from_outputs(str(f), p, x, r) for f, p, x, r in zip(files, probs, X, reasons)]


def classify(network, x, file: str = "") -> Prediction:
    """Classify one image given as 784 values (see preprocess.image_to_mnist)."""
    return classify_many(network, np.asarray(x).reshape(1, -1), [file])[0]


def failed(file: str, error: str) -> Prediction:
    """A Prediction for an image that could not be classified."""
    return Prediction(file=file, digit=None, confidence=None, probabilities=None, error=error)


def classify_files(network, paths: Iterable[str | os.PathLike], *, raw: bool = False) -> list[Prediction]:
    """Preprocess every file, then classify all readable ones in one batched network call.

    A file that fails (unreadable, no digit ...) becomes a Prediction with ``error`` set; the
    others are unaffected. Order is kept.
    """
    judge = confidence_judge(network)  # lets segmentation split touching digits (mnist_app.segment)
    return _classified(network, [(str(path), _prepare(path, raw, judge)) for path in paths])


def classify_each(network, paths: Iterable[str | os.PathLike], *, raw: bool = False,
                  every: float = 0.25) -> Iterator[Prediction]:
    """:func:`classify_files` as it goes: the answers of the files read in the last ``every``
    seconds are yielded together, so a command prints them while the rest are still being read,
    and what it printed stays when it is interrupted. One network call per group, not per file:
    a call per file costs predict ~10% more time (docs/hardening.md)."""
    judge = confidence_judge(network)
    prepared: list[tuple[str, list | Prediction]] = []
    since = time.monotonic()
    for path in paths:
        prepared.append((str(path), _prepare(path, raw, judge)))
        if time.monotonic() - since >= every:
            yield from _classified(network, prepared)
            prepared, since = [], time.monotonic()
    yield from _classified(network, prepared)


def _classified(network, prepared: list[tuple[str, list | Prediction]]) -> list[Prediction]:
    """Answers for ``(name, digits or failed Prediction)`` pairs: one network call for all digits."""
    readable = [(name, digits) for name, digits in prepared if not isinstance(digits, Prediction)]
    if not readable:
        return [digits for _name, digits in prepared]
    preds = iter(classify_many(network, np.stack([d.vector for _name, digits in readable for d in digits]),
                               [name for name, digits in readable for _ in digits]))
    return [digits if isinstance(digits, Prediction) else _answer(name, digits, [next(preds) for _ in digits])
            for name, digits in prepared]


def _prepare(path: str | os.PathLike, raw: bool, judge) -> list | Prediction:
    """The file's digits (one, or several for a number: preprocess.prepare_all), or the failed
    Prediction saying why it cannot be read."""
    name = str(path)
    try:
        with warnings.catch_warnings():  # a quirky file's numpy/Pillow warnings: not extra stderr lines
            warnings.simplefilter("ignore")
            return prepare_all(path, raw=raw, judge=judge)
    except MnistAppError as exc:
        return failed(name, str(exc))
    except Exception as exc:  # noqa: BLE001 - any decoder surprise is still one file's problem
        return failed(name, f"{name}: cannot process image ({type(exc).__name__}: {exc})")


def _answer(name: str, digits: list, preds: list[Prediction]) -> Prediction:
    """One file's answer from its digits' Predictions: the digit, or the number they read."""
    return preds[0] if len(preds) == 1 else as_number(name, preds, [d.box for d in digits])


def expand_paths(args: Iterable[str | os.PathLike]) -> list[tuple[Path, str | None]]:
    """Command-line arguments -> ``(path, problem)`` pairs in order.

    A directory is walked (recursively, sorted) for image files; a directory with none yields
    one entry with a problem. Files are passed through even if missing, so the error is
    reported for that file alone when it is opened.
    """
    from mnist_app.imagefiles import path_problem, walk_images

    out: list[tuple[Path, str | None]] = []
    for arg in args:
        p = Path(arg)
        problem = path_problem(p)  # e.g. inside a folder the user cannot search
        if problem is None and p.is_dir():
            found, problems = walk_images(p, is_image_file)  # a locked subfolder is a problem line
            if not found and not problems:
                out.append((p, f"{p}: directory contains no image files"))
            out.extend((f, None) for f in found)
            out.extend(problems)
        else:
            out.append((p, problem))
    return out
