"""Real non-MNIST handwriting for training ("optdigits" in mnist_app.augment): the UCI optical
recognition of handwritten digits set.

Alpaydin & Kaynak, "Cascading classifiers", Kybernetika 34 (1998); UCI Machine Learning
Repository, "Optical Recognition of Handwritten Digits" (CC BY 4.0). 43 writers at Bogazici
University filled in forms; each digit was scanned as a 32x32 bitmap and reduced to 8x8 counts of
ink pixels in 4x4 blocks (0-16). scikit-learn ships 1,797 of them inside its package
(``sklearn.datasets.load_digits``: no download), which is why scikit-learn is this module's only
extra: ``pip install -e ".[optdigits]"``.

Why: MNIST's writers were American. These were not, and write the forms the own-digit sets hold
and MNIST lacks -- 1s with a long flag and some with a foot, 7s with a crossbar, 4s open and closed --
by hand, not by a rule (mnist_app.written_forms draws such forms from descriptions). None of them
is in digits-dev, the numbers suite or the photo suite, which measure (docs/results.md, "Real
handwriting of another set").

Each 8x8 digit is enlarged back to its source's 32x32 (bicubic), its faint halo cut (ink below
CONTRAST_FLOOR of the peak is paper) and prepared as predict prepares a drawing:
preprocess.center_digit normalises the stroke width, fits the longer side to MNIST's 20x20 box and
centres the centre of mass. The augmentation then swaps a share of each epoch's training digits
for these, of the same label, before its warps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from mnist_app.errors import TrainingError
from mnist_app.image_format import SIDE
from mnist_app.preprocess import center_digit

SOURCE_SIDE = 32
"""The scanned bitmaps' side before UCI's 4x4 counting: the size each digit is enlarged back to."""

CONTRAST_FLOOR = 0.15
"""Of the peak: ink fainter than this after enlarging is the bicubic halo, not a stroke; ink
between it and CONTRAST_FLOOR + CONTRAST_SPAN is stretched to [0, 1]."""

CONTRAST_SPAN = 0.7


def to_mnist(counts: np.ndarray) -> np.ndarray:
    """One 8x8 digit of ink counts in [0, 1] -> a 28x28 float32 image in MNIST's format."""
    enlarged = Image.fromarray((np.clip(counts, 0.0, 1.0) * 255).astype(np.uint8)).resize(
        (SOURCE_SIDE, SOURCE_SIDE), Image.BICUBIC)
    ink = np.asarray(enlarged, dtype=np.float32) / 255
    ink = np.clip((ink - CONTRAST_FLOOR) / CONTRAST_SPAN, 0.0, 1.0)
    return center_digit(ink, name="optdigits")


@lru_cache(maxsize=1)
def optdigits_pool() -> tuple[np.ndarray, ...]:
    """Ten read-only float32 arrays: ``pool[d]`` holds every optdigits digit d in MNIST's format,
    (about 180, 784). Prepared once per process (a few seconds, most of it importing scikit-learn).
    TrainingError (one line, no traceback) when scikit-learn is not installed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # an optional extra: say which
        raise TrainingError('the "optdigits" augmentation needs scikit-learn: pip install -e ".[optdigits]"') from e

    digits = load_digits()
    images = np.stack([to_mnist(counts) for counts in digits.images / 16.0]).reshape(-1, SIDE * SIDE)
    pool = []
    for d in range(10):
        of_d = np.ascontiguousarray(images[digits.target == d], dtype=np.float32)
        of_d.setflags(write=False)
        pool.append(of_d)
    return tuple(pool)
