"""The not-a-digit check: a small network that scores how little a 28x28 input looks like a digit.

Why a second network: the digit network answers "which digit?", never "is this a digit?". Trained
only on digits, it is often *more* sure of a letter than of an odd real digit (H -> "4" at
99.9%, W -> "4" at 100%), so no threshold on its outputs separates the two (docs/unsure.md
measures the candidates: at 2% of correct digits-dev answers flagged, the best output or input
statistic flags about a quarter to a third of handwritten letters).

So 784-30-1 sigmoid networks (the same textbook Network, cross-entropy cost) are trained to say
1 for "not a digit" and 0 for a digit; three of them, trained from different seeds, are shipped
merged into one 784-90-1 network whose log-odds is the mean of theirs
(mnist_app.merge.merge_networks, as for merged digit models):

- digits: MNIST training images, redrawn every epoch with the shipped model's distortions
  (affine + elastic + crossed 7s / flagged 1s), some of them also drawn on paper (enlarged, or as
  old 16x16 scans) and read through the preprocessing, plus digits hand-drawn by mnist_app.strokes
  in several forms and printed in the machine's fonts;
- not digits: capital and lower-case letters drawn by the same synthetic hand and printed in
  fonts (the ones that could fairly be read as digits, such as O, I, S, Z, are left out),
  scribbles and noise.

Digits and letters are drawn by the *same* synthetic hand and come in the *same* renderings
(preprocessed, or 28x28 in MNIST's format and taken raw), so the check has to learn shapes, not
how the image was made. No real letter is ever trained on: the 27 handwritten letters of
non-digits-dev only measure it.

The check depends only on the input image, not on which digit model answered, so it serves the
shipped model and a model you trained alike. Importing this module is light (numpy only); the
weights are read on first use.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from mnist_app.models import shipped_file

CHECK_MODEL = shipped_file("digit_check.npz")
N_INPUTS = 784


@functools.lru_cache(maxsize=1)
def _load(path: str):
    from mnist_app.checkpoint import load_checkpoint

    network, _meta = load_checkpoint(path)
    if len(network.sizes) != 3 or network.sizes[0] != N_INPUTS or network.sizes[-1] != 1:
        from mnist_app.errors import CheckpointError

        raise CheckpointError(f"{path}: not a digit check network (layer sizes {list(network.sizes)})")
    return network


def not_digit_scores(X, path: str | Path = CHECK_MODEL) -> np.ndarray:
    """Log-odds that each row of X (N, 784) is *not* a digit: > 0 leans "not a digit".

    Log-odds rather than the sigmoid output, so thresholds far in the tail stay readable."""
    network = _load(str(path))
    a = network.feedforward(np.ascontiguousarray(np.asarray(X, dtype=network.dtype).reshape(-1, N_INPUTS)))
    a = np.clip(a[:, 0].astype(np.float64), 1e-12, 1 - 1e-12)
    return np.log(a) - np.log1p(-a)
