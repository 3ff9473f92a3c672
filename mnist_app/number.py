"""Reading a number: the digits of one image, each classified, read left to right as "2026".

mnist_app.segment finds the digits and preprocess.prepare_all turns each into an MNIST-style
28x28; the network reads them in the same batch as everything else (predict.classify_files).
This module turns those answers into one reading of the image: the number, and per digit its
answer, confidence and box. A number is unsure when any of its digits is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DigitRead:
    """One digit of a number: the answer, its confidence and where it is in the image."""

    digit: int
    confidence: float
    box: tuple[int, int, int, int]  # (left, top, right, bottom) in the image's pixels, end-exclusive
    unsure: bool = False
    unsure_reason: str | None = None
    input: np.ndarray | None = field(default=None, repr=False, compare=False)  # the 784 values seen

    def to_json(self) -> dict:
        return {"digit": self.digit, "confidence": self.confidence, "box": list(self.box), "unsure": self.unsure}


def confidence_judge(network) -> Callable[[list[np.ndarray]], np.ndarray]:
    """segment.find_digits' judge: for each ink crop, how much it looks like a digit to the
    network -- its largest raw (sigmoid) output, 0 when the not-a-digit check rejects it (both as
    mnist_app.unsure uses them; the normalised confidence stays high when all ten outputs are
    low, so it is not used). Each crop is made into a 28x28 exactly as a digit cut out of a number
    is (preprocess.center_digit); one network call for all crops."""
    from mnist_app.digit_check import not_digit_scores
    from mnist_app.preprocess import center_digit
    from mnist_app.unsure import MAX_NOT_DIGIT_SCORE

    def judge(crops: list[np.ndarray]) -> np.ndarray:
        X = np.stack([center_digit(c).reshape(-1) for c in crops]).astype(network.dtype)
        top = network.feedforward(X).max(axis=1)
        return np.where(not_digit_scores(X) > MAX_NOT_DIGIT_SCORE, 0.0, top)

    return judge


def as_number(file: str, digits: Sequence, boxes: Sequence[tuple[int, int, int, int]]):
    """The Prediction of an image holding several digits, from each digit's Prediction (left to
    right) and box: ``number`` is their digits in order, ``digit`` and ``probabilities`` are None
    (no single digit answers), ``confidence`` is the least sure digit's."""
    from mnist_app.predict import Prediction

    reads = tuple(
        DigitRead(p.digit, p.confidence, tuple(box), p.unsure, p.unsure_reason, p.input)
        for p, box in zip(digits, boxes)
    )
    doubtful = [f"digit {i + 1}: {r.unsure_reason}" for i, r in enumerate(reads) if r.unsure]
    return Prediction(
        file=file,
        digit=None,
        confidence=min(r.confidence for r in reads),
        probabilities=None,
        unsure=bool(doubtful),
        unsure_reason="; ".join(doubtful) or None,
        number="".join(str(r.digit) for r in reads),
        digits=reads,
    )


def describe(reads: Sequence[DigitRead]) -> str:
    """``(2 97%, 0 99%, 2 95%, 6 88%)``: each digit with its confidence, for the text output."""
    return "(" + ", ".join(f"{r.digit} {r.confidence:.0%}" for r in reads) + ")"
