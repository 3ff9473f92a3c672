"""Training digits redrawn with a pen: the digit is its path, not its scan's blur ("redraw" in
mnist_app.augment).

People draw digits with a pen or a finger; predict reduces whatever pen they used to MNIST's
stroke width (preprocess.normalise_stroke) and centres the result (preprocess.center_digit). MNIST's
digits are scans: soft, pressure-shaded strokes whose width varies along the digit. A network
trained on the scans alone reads the same digit less well once it is drawn with an even pen, and
a digit scanned at low resolution (a 16x16 Semeion scan) redrawn along its path shows its forms
without the scan's blur (docs/numbers.md: such digits read 98.5% as their images, 96.4% redrawn).

:func:`redraw` turns a batch of 28x28 training digits into what predict would receive had their
writers used a pen of another width:

1. **enlarge** each digit SCALE times (bilinear interpolation, a product with one matrix on each
   side, with a margin so a wide pen stays inside) and take the ink above a threshold;
2. **thin** it to a 1-px path with Guo & Hall's two-subiteration thinning (Z. Guo and R. W. Hall,
   "Parallel thinning with two-subiteration algorithms", CACM 32(3), 1989), on the whole batch at
   once;
3. **draw** the path with a soft round brush: the path blurred by a Gaussian of sigma = width / 3
   and scaled so the stroke is ``width`` px wide at half ink (a line blurred by a Gaussian of
   sigma has the cross-section exp(-x^2 / 2 sigma^2) / (sqrt(2 pi) sigma) per unit of path
   length), clipped to full ink -- again a product with one matrix on each side;
4. **prepare** it as predict prepares a drawing: preprocess.center_digit (crop to the ink, stroke
   width normalised, 20 px box, centre of mass at the centre), one image at a time.

This is deliberately not the photo and numbers suites' renderer (mnist_app.synth: Zhang & Suen's
thinning at 50-130 px with its loop and end repairs, a distance-transform pen): another thinning
algorithm, another resolution, another pen, so that what the suites measure is not the network
having learnt one renderer's habits. Its cost is measured in docs/results.md.
"""

from __future__ import annotations

import numpy as np

from mnist_app.image_format import SIDE
from mnist_app.preprocess import center_digit, neighbours

SCALE = 3
"""Drawing resolution: each pixel of the 28x28 field becomes SCALE x SCALE (a digit ~60 px tall)."""

MARGIN = 12
"""Paper added around the enlarged field (px at drawing resolution), so a wide brush stays inside."""

WIDTH = (1.5, 15.0)
"""Pen widths drawn, px at drawing resolution, log-uniform: from a fine pen a third of MNIST's
stroke (which center_digit thickens) to a marker a quarter of the digit's height (which it thins).
MNIST's own strokes are ~7 px at this resolution."""

THRESHOLD = (0.3, 0.55)
"""The enlarged digit's ink above U(0.3, 0.55) is the pen's trace that is thinned."""

FAINTEST = 0.2
"""Ink fainter than this is paper, as preprocess.NOISE_FRACTION makes it for a drawing."""

_BIG = SIDE * SCALE + 2 * MARGIN


def _enlarge_matrix() -> np.ndarray:
    """(28 SCALE, 28): bilinear interpolation from the 28x28 field to the enlarged one (pixel
    centres: big pixel i sits at 28x28 coordinate (i + 0.5) / SCALE - 0.5)."""
    src = (np.arange(SIDE * SCALE) + 0.5) / SCALE - 0.5
    return np.clip(1.0 - np.abs(src[:, None] - np.arange(SIDE)[None, :]), 0.0, None).astype(np.float32)


def _gaussian_matrix(sigma: float) -> np.ndarray:
    """(_BIG, _BIG): row i is a Gaussian of ``sigma`` px centred on pixel i, zero past the edges
    (the margin is paper) and not renormalised, so a 1-px path keeps its ink per unit length."""
    d = np.arange(_BIG)[:, None] - np.arange(_BIG)[None, :]
    return (np.exp(-0.5 * (d / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)).astype(np.float32)


def thin(masks: np.ndarray) -> np.ndarray:
    """Guo & Hall's thinning (CACM 32(3), 1989, algorithm A1) of a (N, H, W) bool batch: each
    stroke becomes an 8-connected path one pixel wide, its connectivity and ends kept.

    A pixel P1 is removed when C(P1) = 1 (it joins exactly one piece of ink: removing it does not
    cut the stroke), 2 <= N(P1) <= 3 (it is not an end, nor inside the ink), and in the first
    subiteration (P2 | P3 | ~P5) & P4 = 0, in the second (P6 | P7 | ~P9) & P8 = 0 (peel one side,
    then the other, so a 2-px stroke is not erased from both sides at once)."""
    out = np.asarray(masks, dtype=bool).copy()
    active = np.flatnonzero(out.any(axis=(1, 2)))  # images still changing: the others are done
    while active.size:
        m = out[active]
        changed = np.zeros(active.size, dtype=bool)
        for step in (0, 1):
            p2, p3, p4, p5, p6, p7, p8, p9 = neighbours(m)
            c = (~p2 & (p3 | p4)).view(np.uint8) + (~p4 & (p5 | p6)).view(np.uint8) \
                + (~p6 & (p7 | p8)).view(np.uint8) + (~p8 & (p9 | p2)).view(np.uint8)
            n1 = (p9 | p2).view(np.uint8) + (p3 | p4).view(np.uint8) + (p5 | p6).view(np.uint8) + (p7 | p8).view(np.uint8)
            n2 = (p2 | p3).view(np.uint8) + (p4 | p5).view(np.uint8) + (p6 | p7).view(np.uint8) + (p8 | p9).view(np.uint8)
            n = np.minimum(n1, n2)
            side = ((p2 | p3 | ~p5) & p4) if step == 0 else ((p6 | p7 | ~p9) & p8)
            remove = m & (c == 1) & (n >= 2) & (n <= 3) & ~side
            changed |= remove.any(axis=(1, 2))
            m &= ~remove
        out[active] = m
        active = active[changed]
    return out


def pen_paths(images: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N, _BIG, _BIG) bool: each 28x28 digit enlarged SCALE times, its ink above
    ``thresholds[k]`` of its peak, thinned to its 1-px path, with MARGIN px of paper around."""
    batch = np.asarray(images, dtype=np.float32).reshape(-1, SIDE, SIDE)
    up = _enlarge_matrix()
    big = np.matmul(np.matmul(up, batch), up.T)
    peak = big.max(axis=(1, 2), keepdims=True)
    masks = big > np.asarray(thresholds, dtype=np.float32).reshape(-1, 1, 1) * np.maximum(peak, 1e-6)
    return np.pad(thin(masks), ((0, 0), (MARGIN, MARGIN), (MARGIN, MARGIN)))


def brush(paths: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """(N, _BIG, _BIG) float32 ink in [0, 1]: each path drawn with a soft round pen ``widths[k]``
    px wide (at half ink). sigma = width / 3, so the stroke's core is flat (full ink) and its edges
    fall over about a third of its width, as a pen's do once scanned or photographed."""
    out = np.empty(paths.shape, dtype=np.float32)
    for k, (path, width) in enumerate(zip(paths, np.asarray(widths, dtype=np.float64))):
        sigma = width / 3.0
        g = _gaussian_matrix(sigma)
        # half ink at distance width / 2 from a straight path: gain * exp(-(w/2)^2 / 2 s^2) / (sqrt(2 pi) s) = 1/2
        gain = 0.5 * np.sqrt(2 * np.pi) * sigma * np.exp(width**2 / (8 * sigma**2))
        out[k] = np.clip(gain * (g @ path.astype(np.float32) @ g.T), 0.0, 1.0)
    out[out < FAINTEST] = 0.0  # the Gaussian's far tails: predict's ink_map drops ink this faint too
    return out


def holes(masks: np.ndarray) -> np.ndarray:
    """(N,) the number of loops of each (N, H, W) bool image: pieces of paper (4-connected, as
    the ink is 8-connected) that do not reach the image's border."""
    from scipy import ndimage

    out = np.zeros(len(masks), dtype=np.intp)
    for k, mask in enumerate(masks):
        _, count = ndimage.label(~np.pad(mask, 1))  # the padding joins all border paper into one piece
        out[k] = count - 1
    return out


def redraw(images: np.ndarray, widths: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each 28x28 digit redrawn along its path with a pen ``widths[k]`` px wide (at drawing
    resolution, SCALE x) and prepared by preprocess.center_digit as predict prepares a drawing.

    A pen too wide for a digit's loops fills them: an 8 becomes a bar, which the network would
    learn as "8" and then read thick 1s as 8s. So a redrawing must keep its path's loops; if it
    does not, the pen is halved (down to WIDTH[0]) until it does.

    images (N, 784) or (N, 28, 28) in [0, 1]; widths, thresholds (N,). Returns float32 (N, 784).
    A digit whose path is empty (no ink above its threshold) comes back unchanged."""
    from mnist_app.errors import ImageError

    batch = np.asarray(images, dtype=np.float32).reshape(-1, SIDE * SIDE)
    paths = pen_paths(batch, thresholds)
    widths = np.array(widths, dtype=np.float64)
    inks = brush(paths, widths)
    loops = holes(paths)
    filled = np.flatnonzero(holes(inks > 0.5) < loops)
    while filled.size:
        widths[filled] = np.maximum(widths[filled] / 2, WIDTH[0])
        inks[filled] = brush(paths[filled], widths[filled])
        filled = filled[(holes(inks[filled] > 0.5) < loops[filled]) & (widths[filled] > WIDTH[0])]
    out = batch.copy()
    for k, ink in enumerate(inks):
        if not paths[k].any():
            continue
        try:
            out[k] = center_digit(ink).ravel()
        except ImageError:  # nothing left to centre: keep the digit as it was
            continue
    return out
