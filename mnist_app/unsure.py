"""When an answer should be marked *unsure*: the rule and its thresholds, stated once.

The digit network always names a digit, even for a letter, a scribble or sensor noise, and it is
often sure of itself there (a handwritten H -> "4" at 99.9%). An answer is marked unsure when

1. **the ink does not look like one handwritten digit** -- ink spread over most of the field
   (noise, texture, a photo of nothing) or split into scattered specks where no single stroke
   carries most of it (simple statistics of the 28x28 input; no MNIST digit comes near these
   limits); or when the not-a-digit check (mnist_app.digit_check, a small network trained on
   synthetic letters, scribbles and noise against MNIST and synthetic digits) scores the input
   above MAX_NOT_DIGIT_SCORE; or
2. **the network is not sure** -- its largest raw output is below MIN_TOP_OUTPUT. The ten
   outputs are independent sigmoids (not a softmax): a digit the network knows drives one of them
   close to 1. The normalised "confidence" can look high when none of them does
   (0.15 / (0.15 + 9 x 0.005) = 77%), which is why the raw maximum is used.

The two thresholds are chosen on data by a fixed rule (mnist_app.unsure_lab.pick_thresholds, run
by scripts/measure_unsure.py --write-thresholds, which writes THRESHOLDS_FILE): together they flag
at most 2% of the correct answers on digits-dev (real non-MNIST handwriting, the issue's budget)
and 1% on MNIST test; within that, the pair that flags the most synthetic letters and wrong
answers (the 27 real handwritten letters only measure the result; docs/unsure.md). If the digit
model, the preprocessing or the check network changes, rerun it.
"""

from __future__ import annotations

import json

import numpy as np

from mnist_app.image_format import SIDE
from mnist_app.models import shipped_file

# The two thresholds, as scripts/measure_unsure.py --write-thresholds chose them on data (the rule
# for choosing is mnist_app.unsure_lab.pick_thresholds; the file also records what they cost).
THRESHOLDS_FILE = shipped_file("unsure_thresholds.json")
_STATED = json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))

# 2. Largest raw sigmoid output below this -> "low confidence".
MIN_TOP_OUTPUT: float = _STATED["min_top_output"]

# 1. The not-a-digit check's log-odds (mnist_app.digit_check) above this -> not a digit.
MAX_NOT_DIGIT_SCORE: float = _STATED["max_not_digit_score"]

# 1. Ink statistics of the 28x28 input the network saw (ink high, [0, 1]); ink is above INK_LEVEL.
INK_LEVEL = 0.1
# MNIST digits ink 6-35% of the field (99.9% of them); noise fills most of the 20x20 box.
MAX_INK_COVERAGE = 0.45
# In MNIST the biggest connected stroke holds >= 64% of the ink (99.9% of digits); specks don't.
MIN_MAIN_STROKE_SHARE = 0.5

LOW_CONFIDENCE = "low confidence"
NOT_A_DIGIT = "does not look like a digit"
INK_EVERYWHERE = "not a digit: ink everywhere"
SCATTERED_INK = "not a digit: scattered specks"


def main_stroke_shares(images: np.ndarray) -> np.ndarray:
    """Per image (N, 28, 28): the share of its ink held by its largest 8-connected blob of ink
    pixels (0 for an empty image). One scipy labelling for the whole batch (scipy is imported
    here, lazily, as preprocessing does, so predict starts light)."""
    from scipy import ndimage

    ink = np.asarray(images, dtype=np.float64)
    mask = ink > INK_LEVEL
    connect = np.zeros((3, 3, 3), dtype=bool)
    connect[1] = True  # 8-neighbours within an image, never across images
    labels, n = ndimage.label(mask, structure=connect)
    shares = np.zeros(len(ink))
    if n == 0:
        return shares
    blob_ink = ndimage.sum_labels(ink, labels, index=np.arange(1, n + 1))
    _, first = np.unique(labels.ravel(), return_index=True)  # first pixel of label 0, 1, ..., n
    image_of_blob = first[1:] // (ink.shape[1] * ink.shape[2])
    biggest = np.zeros(len(ink))
    np.maximum.at(biggest, image_of_blob, blob_ink)
    total = np.where(mask, ink, 0.0).sum(axis=(1, 2))
    np.divide(biggest, total, out=shares, where=total > 0)
    return shares


def unsure_reasons(outputs: np.ndarray, X: np.ndarray, not_digit_scores: np.ndarray | None = None, *,
                   min_top_output: float = MIN_TOP_OUTPUT,
                   max_not_digit_score: float = MAX_NOT_DIGIT_SCORE) -> list[str | None]:
    """Why each answer should not be trusted, or None where nothing speaks against it.

    ``outputs``: the network's raw outputs (N, 10 sigmoids); ``X``: the inputs it saw (N, 784);
    ``not_digit_scores``: the check's scores if already computed (else the check runs, once).
    The threshold arguments are for measuring other choices (scripts/measure_unsure.py)."""
    X = np.asarray(X, dtype=np.float32).reshape(-1, SIDE, SIDE)
    if len(X) == 0:
        return []
    if not_digit_scores is None:
        from mnist_app.digit_check import not_digit_scores as check

        not_digit_scores = check(X.reshape(len(X), -1))
    coverage = (X > INK_LEVEL).mean(axis=(1, 2))
    shares = main_stroke_shares(X)
    top = np.max(np.asarray(outputs), axis=1)
    reasons: list[str | None] = []
    for cov, share, score, t in zip(coverage, shares, not_digit_scores, top):
        if cov > MAX_INK_COVERAGE:
            reasons.append(INK_EVERYWHERE)
        elif share < MIN_MAIN_STROKE_SHARE:
            reasons.append(SCATTERED_INK)
        elif score > max_not_digit_score:
            reasons.append(NOT_A_DIGIT)
        elif t < min_top_output:
            reasons.append(LOW_CONFIDENCE)
        else:
            reasons.append(None)
    return reasons
