"""When an answer should be marked *unsure*: the rule and its thresholds, stated once.

The network always names a digit, even for a letter, a scribble or sensor noise. An answer is
marked unsure when either

1. **the network is not sure** -- its largest raw output is low. The ten outputs are independent
   sigmoids (not a softmax): a digit the network knows drives one of them close to 1. When none of
   them gets there, the normalised "confidence" can still look high (0.3 / (0.3 + 0.05) = 86%),
   which is why the raw maximum is used and not the normalised share; or
2. **the ink does not look like one handwritten digit** -- ink spread over most of the field
   (noise, texture, a photo of nothing), or ink split into scattered specks where no single
   stroke carries most of it.

The thresholds were chosen on data (MNIST, digits-dev, handwritten letters, generated letters,
scribbles and noise); the measurements and the risk-coverage tables are in docs/unsure.md,
reproducible with scripts/measure_unsure.py.
"""

from __future__ import annotations

import numpy as np

from mnist_app.image_format import SIDE

# 1. Largest raw sigmoid output below this -> "low confidence".
MIN_TOP_OUTPUT = 0.5

# 2. The 28x28 input the network saw (ink high, [0, 1]); a pixel is ink above INK_LEVEL.
INK_LEVEL = 0.1
# MNIST digits ink 6-35% of the field (99.9% of them); noise fills most of the 20x20 box.
MAX_INK_COVERAGE = 0.45
# In MNIST the biggest connected stroke holds >= 64% of the ink (99.9% of digits); specks don't.
MIN_MAIN_STROKE_SHARE = 0.5

LOW_CONFIDENCE = "low confidence"
INK_EVERYWHERE = "not a digit: ink everywhere"
SCATTERED_INK = "not a digit: scattered specks"


def _main_stroke_share(ink: np.ndarray) -> float:
    """Share of the ink held by the largest 8-connected blob of ink pixels (28x28 is tiny:
    a plain union-find over pixels is fast enough and keeps scipy out of predict's start-up)."""
    mask = ink > INK_LEVEL
    total = float(ink[mask].sum())
    if total <= 0:
        return 0.0
    labels = np.zeros(mask.shape, dtype=np.int32)
    sums: list[float] = []
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if labels[y0, x0]:
            continue
        sums.append(0.0)
        label = len(sums)
        labels[y0, x0] = label
        stack = [(y0, x0)]
        while stack:
            y, x = stack.pop()
            sums[-1] += float(ink[y, x])
            for yy in range(max(y - 1, 0), min(y + 2, h)):
                for xx in range(max(x - 1, 0), min(x + 2, w)):
                    if mask[yy, xx] and not labels[yy, xx]:
                        labels[yy, xx] = label
                        stack.append((yy, xx))
    return max(sums) / total


def unsure_reason(outputs: np.ndarray, x: np.ndarray) -> str | None:
    """Why the answer for input ``x`` (784 values) with raw network ``outputs`` (10 sigmoids)
    should not be trusted, or None if nothing speaks against it."""
    ink = np.asarray(x, dtype=np.float32).reshape(SIDE, SIDE)
    if float((ink > INK_LEVEL).mean()) > MAX_INK_COVERAGE:
        return INK_EVERYWHERE
    if _main_stroke_share(ink) < MIN_MAIN_STROKE_SHARE:
        return SCATTERED_INK
    if float(np.max(outputs)) < MIN_TOP_OUTPUT:
        return LOW_CONFIDENCE
    return None
