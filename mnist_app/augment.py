"""Training-time distortions of MNIST digits: affine, elastic, stroke thickness, styles, low resolution,
written forms, real digits of another set, a pen's redrawing.

Why distort?  A network sees each of the 50,000 training digits once per epoch.  If
every epoch shows it a slightly different version of each digit -- shifted a pixel,
tilted a few degrees, a little bigger, a little wobblier, drawn with a thicker pen --
it learns what makes a "7" a 7 instead of memorising 50,000 particular pictures.
Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks
Applied to Visual Document Analysis" (ICDAR 2003) report that a plain 784-800-10
sigmoid network drops from 1.6% test error to 1.1% with affine distortions and to
0.7% with elastic distortions.  The same distortions also make the model more robust
to how real people draw (shifts, rotations, scale, width, stroke thickness, handwriting styles).

Everything here works on a whole batch at once with numpy array operations; there is
no Python loop over images.  Images are float32 rows of 784 pixels (28x28, row-major,
ink = 1, background = 0) as produced by ``mnist_app.data``; (N, 28, 28) also works.

How a geometric distortion is computed (both kinds use the same machinery)
--------------------------------------------------------------------------
For every *output* pixel p = (x, y) we compute the *source* position s(p) in the
input image to read from, and read it with bilinear interpolation (the four
neighbouring pixels weighted by distance; outside the image counts as background 0).
Working backwards -- output to source -- guarantees every output pixel gets exactly
one value, with no holes.

* Affine: a 2x2 matrix A (rotation . shear . scale) and a translation t about the
  image centre c = (13.5, 13.5).  A source point s lands at  p = c + t + A (s - c),
  so we read from  s = c + A^-1 (p - c - t).
* Elastic (Simard et al. 2003, section 2): draw a random displacement for every pixel,
  dx, dy ~ U(-1, 1) independently; smooth each field with a Gaussian of standard
  deviation ``sigma`` (pixels); multiply by ``alpha``; read from s = p + (dx, dy).
  Small sigma gives random jitter, large sigma an almost rigid shift; sigma = 4 and
  alpha = 34 give the slow local wobbles of a hand.  The Gaussian blur along rows
  and columns is a product with a 28x28 matrix ``G`` (rows are shifted, normalised
  Gaussian kernels, mirrored at the border like scipy's ``mode="reflect"``), so the
  smoothed field is  G @ U @ G.T  -- two matrix products over the whole batch.
* Both: the affine map is applied first and the elastic wobble on top of it, composed
  into a single source position s = c + A^-1 (p + d(p) - c - t), so the digit is
  resampled (and slightly blurred) only once.

Stroke thickness is not geometric: with a random amount t in [-thickness, thickness]
each image moves towards its grey dilation (maximum over each pixel and its 4 nearest
neighbours: a thicker pen) when t > 0 or its grey erosion (the minimum over the same
"+" neighbourhood: a thinner pen) when t < 0:
``out = x + |t| * (dilated_or_eroded - x)``.  It is applied after any warp.

Handwriting styles ("styles", :func:`add_handwriting_styles`) add strokes MNIST's
American writers almost never make but many Europeans do: a crossbar through the 7's
stem, a long up-stroke flag (and sometimes a foot) on the 1.  They need the labels and
are drawn before any warp, so the new strokes are distorted along with the digit.

Real handwriting of another set ("optdigits", :func:`swap_in_optdigits`, mnist_app.optdigits)
swaps some digits for digits of the same label written by 43 writers who were not American, as
"synth" swaps in drawn forms; they are warped like the rest.

A low-resolution source ("lowres", :func:`lower_resolution`) redraws some digits the way a
16x16 scan reaches the network once predict has enlarged it; it is applied last, after the warp
and any thickness change.

A pen's redrawing ("redraw", :func:`redraw_with_pen`, mnist_app.redraw) redraws some digits along
their 1-px path with a pen from fine to marker and prepares them as predict prepares a drawing
(stroke width normalised, 20 px box, centred): what the network receives when a user draws the
digit instead of scanning it. It comes last of all, after the low-resolution step.

Determinism: the same input, parameters and ``np.random.Generator`` state give the
same output.  All per-image random numbers (angles, shifts, ...) are drawn for the
whole batch first and the elastic noise is drawn chunk after chunk in image order, so
the result does not depend on ``chunk_size`` either (up to float32 rounding, ~1e-6,
in the matrix products of the Gaussian blur).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from mnist_app.image_format import SIDE

CENTRE = (SIDE - 1) / 2.0
"""The centre of the image in pixel coordinates (13.5): rotation and scaling pivot here."""

DEFAULTS: Mapping[str, float] = MappingProxyType(
    {
        # Affine (Simard et al. 2003 use random affine maps of this size on MNIST).
        "shift": 2.0,  # pixels; dx, dy ~ U(-shift, shift) each
        "rotation": 12.0,  # degrees; angle ~ U(-rotation, rotation)
        "scale": 0.15,  # relative; zoom factor ~ U(1 - scale, 1 + scale)
        "shear": 0.2,  # x moves by shear * (y - centre); factor ~ U(-shear, shear)
        "stretch": 0.3,  # width only; factor ~ exp(U(-stretch, stretch)), i.e. 0.74 to 1.35
        # Elastic (Simard et al. 2003: sigma = 4, alpha = 34 on MNIST-sized digits).
        "alpha": 34.0,  # pixels per unit of smoothed noise
        "sigma": 4.0,  # standard deviation of the Gaussian smoothing, pixels
        # Stroke thickness.
        "thickness": 0.5,  # blend amount t ~ U(-thickness, thickness)
        # Handwriting styles (add_handwriting_styles): crossed 7s, flagged and footed 1s, closed 4s.
        "style_probability": 0.5,  # chance a 7 gets a crossbar / a 1 gets a flag
        "foot_probability": 0.5,  # chance a flagged 1 also gets a foot
        "closed_four_probability": 0.5,  # chance a 4 gets its top closed (a triangle 4), if its bar crosses the stem
        "short_stem_probability": 0.0,  # chance a 4 not closed gets a stem starting at its bar
        # Low-resolution source (lower_resolution): a 16x16 scan as predict enlarges it.
        "lowres_probability": 0.3,  # chance an image is redrawn from a coarse grid
        "lowres_block": 1.7,  # a coarse pixel is U(1.1, lowres_block) px of the 28x28 field
        "binary_probability": 0.5,  # chance a coarse image is also binarised (a Semeion-style scan)
        # Synthetic written digits (mnist_app.written_forms): forms MNIST lacks, of every class.
        "synth_probability": 0.2,  # chance a training digit is swapped for a pool digit of its label
        "synth_pool": 500,  # pool drawings per digit (rendered once per process)
        # Real handwriting of another set (mnist_app.optdigits): 43 writers, not American.
        "optdigits_probability": 0.3,  # chance a training digit is swapped for an optdigits digit of its label
        # Redrawn with a pen (mnist_app.redraw): the digit's path, a pen of another width, as predict prepares it.
        "redraw_probability": 0.2,  # chance a training digit is redrawn along its path
    }
)
"""Default distortion parameters; every one can be overridden as a keyword argument of
:func:`augment_batch` (``augment_batch(x, rng, kind="affine", rotation=8.0)``)."""

KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "affine": ("affine",),
        "elastic": ("elastic",),
        "both": ("affine", "elastic"),
        "thickness": ("thickness",),
        "all": ("affine", "elastic", "thickness"),
        "styles": ("styles",),
        "lowres": ("lowres",),
        "synth": ("synth",),
        "optdigits": ("optdigits",),
        "redraw": ("redraw",),
    }
)
"""Named kinds and the distortions each applies.  Any '+'-joined combination of
'affine', 'elastic', 'thickness', 'styles', 'lowres', 'synth', 'optdigits', 'redraw' and these names is
accepted too, e.g. ``"affine+thickness"`` or ``"all+styles"``.  'styles' (:func:`add_handwriting_styles`),
'synth' (:func:`swap_in_written_digits`) and 'optdigits' (:func:`swap_in_optdigits`) need the labels
and are always applied first (styles, then synth, then optdigits), so their strokes are distorted
too; 'redraw' always comes last, so a redrawn digit reaches the network as predict would prepare it."""

CHUNK_SIZE = 2048
"""Images processed at once: bounds the temporary memory (~1 MB per 100 images)."""

_PARAMS_OF = {
    "affine": ("shift", "rotation", "scale", "shear", "stretch"),
    "elastic": ("alpha", "sigma"),
    "thickness": ("thickness",),
    "styles": ("style_probability", "foot_probability", "closed_four_probability", "short_stem_probability"),
    "lowres": ("lowres_probability", "lowres_block", "binary_probability"),
    "synth": ("synth_probability", "synth_pool"),
    "optdigits": ("optdigits_probability",),
    "redraw": ("redraw_probability",),
}


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def _as_batch(images: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return images as a C-contiguous float32 (N, 28, 28) array and the original shape."""
    arr = np.asarray(images)
    if arr.ndim == 2 and arr.shape[1] == SIDE * SIDE:
        pass
    elif arr.ndim == 3 and arr.shape[1:] == (SIDE, SIDE):
        pass
    else:
        raise ValueError(f"images must have shape (N, 784) or (N, 28, 28), got {arr.shape}")
    batch = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1, SIDE, SIDE)
    return batch, arr.shape


def _check_probabilities(**probabilities: float) -> None:
    for name, value in probabilities.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")


def _one_label_per_image(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"need one label per image: {labels.shape[0]} labels, {n} images")
    return labels


def gaussian_matrix(sigma: float, n: int = SIDE, truncate: float = 4.0) -> np.ndarray:
    """The (n, n) float32 matrix G whose product ``G @ v`` blurs a length-n signal v.

    Row i holds a normalised Gaussian kernel exp(-k^2 / (2 sigma^2)), k = -r..r with
    r = int(truncate * sigma + 0.5), centred on i; taps falling off either end are
    mirrored back in (d c b a | a b c d | d c b a, scipy's ``mode="reflect"``), so
    every row sums to 1 and a constant signal stays constant.  ``G @ F @ G.T`` blurs
    a 2-D field F along both axes (the 2-D Gaussian is separable).  sigma = 0 gives
    the identity.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return np.eye(n, dtype=np.float32)
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    rows = np.repeat(np.arange(n), offsets.size)
    cols = (np.arange(n)[:, None] + offsets[None, :]).ravel() % (2 * n)
    cols = np.where(cols >= n, 2 * n - 1 - cols, cols)  # reflect at both ends
    matrix = np.zeros((n, n))
    np.add.at(matrix, (rows, cols), np.tile(weights, n))
    return matrix.astype(np.float32)


def bilinear_sample(images: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """Read each image at fractional positions with bilinear interpolation.

    images: (N, 28, 28); src_y, src_x: (N, 28, 28) or (N, 784) row and column positions
    (float) to read for each output pixel.  Positions outside the image read as 0
    (background), with a smooth fade across the border pixel.  Returns (N, 28, 28)
    float32.  Integer positions give back the pixel values exactly.
    """
    n = images.shape[0]
    padded_side = SIDE + 2  # one pixel of zero background on every side
    padded = np.zeros((n, padded_side, padded_side), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    flat = padded.ravel()

    sy = np.asarray(src_y, dtype=np.float32).reshape(n, -1)
    sx = np.asarray(src_x, dtype=np.float32).reshape(n, -1)
    # Top-left neighbour, clamped to the padded range; the fractions are clamped to
    # [0, 1] so a far-outside position puts all its weight on a zero border pixel.
    y0 = np.floor(sy)
    np.clip(y0, -1, SIDE - 1, out=y0)
    x0 = np.floor(sx)
    np.clip(x0, -1, SIDE - 1, out=x0)
    fy = sy - y0
    np.clip(fy, 0.0, 1.0, out=fy)
    fx = sx - x0
    np.clip(fx, 0.0, 1.0, out=fx)
    # Flat index of the top-left neighbour in the padded batch (int32: a chunk of
    # images is far below 2**31 pixels; halves the memory traffic of int64).
    if flat.size >= 2**31:
        raise ValueError(f"too many images in one call to bilinear_sample ({n}); use chunks")
    index = y0.astype(np.int32)
    index *= padded_side
    index += x0.astype(np.int32)
    index += (np.arange(n, dtype=np.int32) * (padded_side * padded_side) + padded_side + 1)[:, None]

    top = np.take(flat, index)
    top += fx * (np.take(flat, index + 1) - top)
    index += padded_side
    bottom = np.take(flat, index)
    bottom += fx * (np.take(flat, index + 1) - bottom)
    top += fy * (bottom - top)
    return top.reshape(n, SIDE, SIDE)


def _pixel_grid() -> tuple[np.ndarray, np.ndarray]:
    """Row (y) and column (x) coordinates of the 784 pixels, each shape (1, 784) float32."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    return y.reshape(1, -1), x.reshape(1, -1)


def affine_matrices(
    rotation_deg: np.ndarray, scale: np.ndarray, shear: np.ndarray, stretch: np.ndarray | float = 1.0
) -> np.ndarray:
    """Per-image 2x2 matrices A = R(angle) . Shear(k) . scale . diag(stretch, 1), shape (N, 2, 2).

    Coordinates are (x, y) = (column, row); rows grow downwards, so a positive angle
    turns the digit anticlockwise as seen on screen.  Shear moves x by k * y (a
    forward- or backward-slanting pen); scale > 1 enlarges the digit; stretch > 1 widens it
    (only x), < 1 narrows it -- people's digits differ in width far more than in height.
    """
    theta = np.deg2rad(np.asarray(rotation_deg, dtype=np.float64))
    scale = np.asarray(scale, dtype=np.float64)
    shear = np.asarray(shear, dtype=np.float64)
    stretch = np.asarray(stretch, dtype=np.float64)
    cos, sin = np.cos(theta), np.sin(theta)
    # R = [[cos, sin], [-sin, cos]] (anticlockwise on screen with y down); S = [[1, k], [0, 1]].
    a = np.empty(theta.shape + (2, 2))
    a[..., 0, 0] = cos * scale * stretch
    a[..., 0, 1] = (cos * shear + sin) * scale
    a[..., 1, 0] = -sin * scale * stretch
    a[..., 1, 1] = (-sin * shear + cos) * scale
    return a


def _affine_source(
    matrices: np.ndarray, shifts: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Source positions s = c + A^-1 (p - c - t) for output positions p = (x, y).

    matrices (n, 2, 2) as from :func:`affine_matrices`; shifts (n, 2) as (dx, dy);
    y, x broadcastable to (n, 784).
    """
    inv = np.linalg.inv(matrices).astype(np.float32)  # tiny: n 2x2 inverses
    t = np.asarray(shifts, dtype=np.float32)
    px = x - (CENTRE + t[:, 0:1])
    py = y - (CENTRE + t[:, 1:2])
    sx = inv[:, 0, 0:1] * px + inv[:, 0, 1:2] * py + CENTRE
    sy = inv[:, 1, 0:1] * px + inv[:, 1, 1:2] * py + CENTRE
    return sy, sx


def affine_transform(images: np.ndarray, matrices: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Apply one explicit affine map per image (no randomness).

    images (N, 784) or (N, 28, 28); matrices (N, 2, 2) acting on (x, y) about the
    centre (13.5, 13.5) -- see :func:`affine_matrices`; shifts (N, 2) as (dx, dy)
    pixels, +dx moving the digit right and +dy down.  Returns float32 in the input's
    shape, clipped to [0, 1].  Identity matrices and integer shifts move pixels exactly.
    """
    batch, shape = _as_batch(images)
    grid_y, grid_x = _pixel_grid()
    sy, sx = _affine_source(np.asarray(matrices), np.asarray(shifts), grid_y, grid_x)
    out = bilinear_sample(batch, sy, sx)
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)


def _blur_transposed(fields: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(G F G.T).T for each (28, 28) field F of a C-contiguous (M, 28, 28) float32 batch.

    Two batched matrix products: H = F @ G.T, then H.T @ G.T = (G F G.T).T, which
    leaves the result transposed.  Stacked 28x28 products run one small BLAS call per
    field, on one thread: as fast here as one big threaded product, and not slowed
    down when the other core is busy (a big threaded product then was 3x slower).
    """
    gt = np.ascontiguousarray(g.T)
    along_x = np.matmul(fields, gt)  # F @ G.T
    return np.matmul(along_x.transpose(0, 2, 1), gt)  # (F @ G.T).T @ G.T = (G F G.T).T


def smooth_displacement(noise: np.ndarray, sigma: float) -> np.ndarray:
    """Blur a batch of (M, 28, 28) fields with a Gaussian of std ``sigma`` (pixels).

    Returns G @ F @ G.T for each field F, with G from :func:`gaussian_matrix`, as a
    float32 (M, 28, 28) array.  (:func:`augment_batch` skips the final transpose: the
    blur of the transposed noise, G @ F.T @ G.T, is an equally random smooth field,
    because the noise values are independent and identically distributed.)
    """
    fields = np.ascontiguousarray(noise, dtype=np.float32)
    return np.ascontiguousarray(_blur_transposed(fields, gaussian_matrix(sigma)).transpose(0, 2, 1))


def elastic_transform(images: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Move each output pixel's read position by an explicit displacement field.

    images (N, 784) or (N, 28, 28); dx, dy (N, 28, 28) in pixels: output pixel (x, y)
    reads the input at (x + dx, y + dy).  Zero fields give back the input exactly.
    Returns float32 in the input's shape, clipped to [0, 1].
    """
    batch, shape = _as_batch(images)
    grid_y, grid_x = _pixel_grid()
    n = batch.shape[0]
    sy = grid_y + np.asarray(dy, dtype=np.float32).reshape(n, -1)
    sx = grid_x + np.asarray(dx, dtype=np.float32).reshape(n, -1)
    out = bilinear_sample(batch, sy, sx)
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)


def change_thickness(images: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Thicken (amount > 0) or thin (amount < 0) each image's strokes.

    amounts (N,) in [-1, 1]: out = x + |a| * (d - x), where d is the grey dilation
    (maximum) of x for a > 0 and its grey erosion (minimum) for a < 0, both over the
    pixel and its 4 nearest neighbours (a "+"-shaped neighbourhood: one pixel of pen
    width on each side, gentler than a 3x3 square, whose dilation doubles the ink of an
    MNIST digit).  On real digits a = 1 adds about 70% ink and a = -1 removes about 65%,
    so symmetric random amounts keep the ink roughly constant on average.  Outside the
    image counts as background 0.  amount 0 is the identity.
    """
    batch, shape = _as_batch(images)
    a = np.asarray(amounts, dtype=np.float32).reshape(-1, 1, 1)
    if a.shape[0] != batch.shape[0]:
        raise ValueError(f"need one amount per image: {a.shape[0]} amounts, {batch.shape[0]} images")
    padded = np.zeros((batch.shape[0], SIDE + 2, SIDE + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = batch
    centre = padded[:, 1:-1, 1:-1]
    up, down = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]
    left, right = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]
    dilated = np.maximum(np.maximum(np.maximum(centre, up), np.maximum(down, left)), right)
    eroded = np.minimum(np.minimum(np.minimum(centre, up), np.minimum(down, left)), right)
    target = np.where(a > 0, dilated, eroded)
    out = batch + np.abs(a) * (target - batch)
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)


# --------------------------------------------------------------------------------------
# A low-resolution source
# --------------------------------------------------------------------------------------
#
# Many digits reach predict from a coarse grid: a 16x16 scan (USPS: grey; Semeion: binary, thick
# blocky strokes), a tiny crop, a thumbnail -- shown enlarged or not. preprocess.center_digit
# scales the digit's box to 20 px whatever its resolution, so the network receives a digit whose
# edges are the coarse grid's staircase, smoothed by the enlargement, and -- for a binary scan --
# strokes a whole number of coarse pixels wide with no grey edge. MNIST digits were anti-aliased
# from 128x128-ish scans and never look like that. :func:`lower_resolution` renders a digit the
# way such a source would give it: area-average it onto a coarse grid (a coarse pixel spans
# ``block`` px of the 28x28 field, from a random phase), optionally binarise it, and enlarge it
# back with bilinear interpolation (what Pillow's resize does when predict enlarges a small crop),
# ink peak back to 1 as center_digit leaves it. Both steps are linear along rows and columns, so
# each is a product with a 28x28 matrix per image on either side: no Python loop over images.

_LOWRES_MIN_BLOCK = 1.1
"""The finest coarse grid drawn: a coarse pixel spans at least this many of the 28x28's pixels."""

_BINARY_THRESHOLDS = (0.3, 0.6)
"""A binarised coarse pixel is ink when its average ink is above U(0.3, 0.6) of full ink."""


def coarse_grid_matrices(blocks: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the (28, 28) matrices that take a 28x28 digit to a coarse grid and back.

    blocks (N,): a coarse pixel spans ``block`` (>= 1) pixels of the field; offsets (N,) in
    [0, block): coarse pixel i covers [i * block - offset, (i + 1) * block - offset).
    Returns (down, up), each (N, 28, 28) float32: ``down[k] @ x @ down[k].T`` is the area
    average of x over each coarse pixel (rows of coarse pixels past the field are 0) and
    ``up[k] @ v @ up[k].T`` enlarges a coarse image v back with bilinear interpolation between
    coarse pixel centres (zero beyond the grid).
    """
    b = np.asarray(blocks, dtype=np.float64).reshape(-1, 1, 1)
    o = np.asarray(offsets, dtype=np.float64).reshape(-1, 1, 1)
    if np.any(b < 1) or np.any(o < 0) or np.any(o >= b):
        raise ValueError("blocks must be >= 1 and offsets in [0, block)")
    i = np.arange(SIDE, dtype=np.float64).reshape(1, -1, 1)  # coarse pixel (rows of down)
    j = np.arange(SIDE, dtype=np.float64).reshape(1, 1, -1)  # fine pixel
    start, stop = i * b - o, (i + 1) * b - o
    down = np.clip(np.minimum(stop, j + 1) - np.maximum(start, j), 0.0, None) / b
    centre = (j.reshape(1, -1, 1) + 0.5 + o) / b - 0.5  # fine pixel's centre in coarse coordinates
    up = np.clip(1.0 - np.abs(centre - i.reshape(1, 1, -1)), 0.0, None)
    return down.astype(np.float32), up.astype(np.float32)


def lower_resolution(
    images: np.ndarray, blocks: np.ndarray, offsets: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Render each digit as a coarse-grid source would reach the network (see above).

    images (N, 784) or (N, 28, 28) in [0, 1]; blocks, offsets (N,) as for
    :func:`coarse_grid_matrices`; thresholds (N,): a coarse pixel of image k becomes 1 if its
    average ink exceeds thresholds[k] and 0 otherwise; NaN keeps it grey. Returns float32 in the
    input's shape, peak ink 1 (an image left with no ink comes back unchanged).
    """
    batch, shape = _as_batch(images)
    down, up = coarse_grid_matrices(blocks, offsets)
    coarse = np.matmul(np.matmul(down, batch), down.transpose(0, 2, 1))
    t = np.asarray(thresholds, dtype=np.float32).reshape(-1, 1, 1)
    coarse = np.where(np.isnan(t), coarse, (coarse > t).astype(np.float32))
    out = np.matmul(np.matmul(up, coarse), up.transpose(0, 2, 1))
    peak = out.max(axis=(1, 2), keepdims=True)
    out = np.where(peak > 0, out / np.maximum(peak, 1e-12), batch)
    np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32).reshape(shape)


# --------------------------------------------------------------------------------------
# Handwriting styles MNIST (almost) never shows
# --------------------------------------------------------------------------------------
#
# MNIST was written by American Census Bureau employees and high-school students.  Many
# European writers draw two digits differently (see the Semeion digits, written in
# Italy, in the project's dev set):
#   * "1" with a long up-stroke "flag" from the top going down to the left (often also a
#     short horizontal foot at the bottom) -- MNIST 1s are almost all a bare stroke, so
#     a network trained on MNIST reads such a 1 as a 7, 4 or 2;
#   * "7" with a horizontal crossbar through the middle of the stem -- read as a 2.
# Geometric distortions cannot create a stroke that is not there, so
# :func:`add_handwriting_styles` draws these strokes onto MNIST digits of the right label,
# from this description alone (nothing is copied from any test or dev image).
#
# Strokes are straight segments rendered as an anti-aliased pen: a pixel at distance d
# from the segment gets ink  clip((w/2 - d) / SOFTNESS + 1/2, 0, 1),  a ramp SOFTNESS px
# wide centred on the pen's edge, so that a cross-section through the stroke holds w px
# of ink in total, like the digit's own strokes (whose width w is measured per image).
# New ink is combined with the old by a maximum, as a pen going over ink does.

_SOFTNESS = 1.5
"""Width in pixels of the grey edge of a drawn stroke (MNIST's strokes are soft-edged)."""

_INK = 0.3
"""A pixel with at least this value counts as ink when locating a digit's rows and stem."""

_FLAG_GAP = 35.0
"""Least angle in degrees between a 1's flag and its stroke (both going down-left)."""

_FOUR_BAND = 0.35
"""Top fraction of a 4's ink rows where its left arm and stem are looked for (above the crossbar)."""

_BAR_PAST_STEM = 2.5
"""Least reach in px of a 4's crossbar to the right of its stem's centre for its top to be closed."""

_STYLE_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "crossbar_length": (7.0, 11.0),  # px, the 7's crossbar
        "crossbar_tilt": (-10.0, 10.0),  # degrees from horizontal (positive: right end lower)
        "crossbar_height": (-1.0, 1.5),  # px below the digit's vertical middle
        "crossbar_offset": (-1.0, 1.0),  # px from the stem to the bar's centre, along x
        "flag_length": (7.0, 14.0),  # px, the 1's up-stroke
        "flag_angle": (15.0, 45.0),  # degrees below horizontal, going left from the top
        "foot_length": (6.0, 13.0),  # px, the 1's base (real feet span most of the digit's width)
        "foot_offset": (-1.0, 1.0),  # px from the stroke's bottom to the foot's centre
    }
)
"""Ranges (uniform) of the random shape of each added stroke, in 28x28-pixel units of a
digit about 20 px tall (MNIST's size)."""


def segment_distance(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray
) -> np.ndarray:
    """Distance from every pixel centre to one segment per image, shape (M, 784) float32.

    ax, ay, bx, by: (M,) end points (x = column, y = row) of M segments.  For pixel p the
    nearest point of segment a-b is a + t (b - a) with t = clip((p - a).(b - a) / |b - a|^2,
    0, 1); a zero-length segment is a dot at a.
    """
    grid_y, grid_x = _pixel_grid()
    ax, ay, bx, by = (np.asarray(v, dtype=np.float32).reshape(-1, 1) for v in (ax, ay, bx, by))
    ux, uy = bx - ax, by - ay
    px, py = grid_x - ax, grid_y - ay
    length2 = np.maximum(ux * ux + uy * uy, np.float32(1e-12))
    t = np.clip((px * ux + py * uy) / length2, 0.0, 1.0)
    dx = px - t * ux
    dy = py - t * uy
    return np.sqrt(dx * dx + dy * dy)


def draw_segments(
    images: np.ndarray,
    index: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    width: np.ndarray,
    intensity: np.ndarray | float = 1.0,
) -> None:
    """Draw one anti-aliased straight stroke into each of ``images[index]``, in place.

    images: (N, 784) float32, modified in place; index: (M,) distinct image numbers;
    ax, ay, bx, by: (M,) end points in pixels (x = column, y = row); width: (M,) pen
    width in pixels; intensity: peak ink value, scalar or (M,).  Ink is combined with
    the image by a maximum.  Indices must not repeat (each call draws at most one
    segment per image; call again for a second stroke).
    """
    index = np.asarray(index, dtype=np.intp)
    if index.size == 0:
        return
    distance = segment_distance(ax, ay, bx, by)
    half = np.asarray(width, dtype=np.float32).reshape(-1, 1) / 2
    ink = (half - distance) * np.float32(1.0 / _SOFTNESS)
    ink += np.float32(0.5)
    np.clip(ink, 0.0, 1.0, out=ink)
    ink *= np.asarray(intensity, dtype=np.float32).reshape(-1, 1)
    images[index] = np.maximum(images[index], ink)


def _band_stats(
    images: np.ndarray, rows: np.ndarray, centre_row: np.ndarray, half_band: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ink-weighted x and horizontal ink width of the rows within ``half_band`` of a row.

    images (M, 28, 28); rows (28,) row numbers; centre_row (M,).  Returns (x, width,
    mass): x the ink's mean column over those rows, width the ink per row (the cross-
    section of a near-vertical stroke, in px), mass the total ink (0: nothing there).
    """
    band = (np.abs(rows[None, :] - centre_row[:, None]) <= half_band).astype(np.float32)  # (M, 28)
    per_column = np.einsum("mr,mrc->mc", band, images)  # ink of the band's rows, per column
    mass = per_column.sum(axis=1)
    cols = np.arange(SIDE, dtype=np.float32)
    x = (per_column @ cols) / np.maximum(mass, 1e-6)
    width = mass / np.maximum(band.sum(axis=1), 1.0)
    return x, width, mass


def _four_top_band(sub: np.ndarray) -> tuple[np.ndarray, ...]:
    """Where a 4's open top is, for (M, 28, 28) 4s: (inked, top, bottom, height, in_band, split).

    ``inked`` = ink >= _INK; ``top``/``bottom`` its first and last ink rows and ``height`` the rows
    between; ``in_band`` the ink of the top :data:`_FOUR_BAND` of those rows; ``split`` the first
    empty column after the leftmost ink of that band -- the left arm lies left of it, the stem right
    of it (28 where the top is closed: no empty column).
    """
    inked = sub >= _INK
    ink_rows = inked.any(axis=2)
    top = ink_rows.argmax(axis=1)
    bottom = SIDE - 1 - ink_rows[:, ::-1].argmax(axis=1)
    height = bottom - top + 1
    r = np.arange(SIDE)
    band = (r[None, :] >= top[:, None]) & (r[None, :] < (top + _FOUR_BAND * height)[:, None])
    in_band = inked & band[:, :, None]
    columns = in_band.any(axis=1)  # (M, 28): columns holding ink in the top band
    first = columns.argmax(axis=1)
    gap = ~columns & (r[None, :] > first[:, None])
    split = np.where(gap.any(axis=1), gap.argmax(axis=1), SIDE)  # the first empty column after the arm
    return inked, top, bottom, height, in_band, split


def _shorten_four_stems(out: np.ndarray, img: np.ndarray, chosen: np.ndarray, u: np.ndarray) -> None:
    """Make each open-top 4 of ``img[chosen]`` one whose stem starts at the crossbar: erase, in
    ``out`` (N, 784) in place, the ink right of the top band's gap (the stem's side) above a row
    0-4 px (``u`` (M,) uniform numbers) above the crossbar.

    Many European writers draw a 4 as a long left arm curving into the bar, then a short stem
    crossing the bar from just above it; MNIST's stems reach the top, and a network trained on
    them reads such a 4 as 6. The crossbar is the inkiest row below the top band and above the
    lowest fifth; a 4 with a closed top, or with no ink on either side of the gap, is left alone.
    """
    if chosen.size == 0:
        return
    sub = img[chosen]
    inked, top, bottom, height, in_band, split = _four_top_band(sub)
    r = np.arange(SIDE)
    right_side = r[None, :] >= split[:, None]  # (M, 28) columns
    has_left = (in_band & ~right_side[:, None, :]).any(axis=(1, 2))
    has_right = (in_band & right_side[:, None, :]).any(axis=(1, 2))
    between = (r[None, :] >= (top + _FOUR_BAND * height)[:, None]) & (r[None, :] <= (bottom - 0.2 * height)[:, None])
    bar_row = np.where(between, sub.sum(axis=2), -1.0).argmax(axis=1)
    cut = bar_row - np.floor(u * 5.0)  # the stem's new top row: 0-4 px above the bar
    good = has_left & has_right & (split < SIDE) & between.any(axis=1) & (cut > top + 2)
    erase = (r[None, :, None] < cut[:, None, None]) & right_side[:, None, :] & good[:, None, None]
    view = out.reshape(-1, SIDE, SIDE)
    view[chosen] = np.where(erase, np.float32(0), view[chosen])


def _close_fours(out: np.ndarray, img: np.ndarray, chosen: np.ndarray, u: np.ndarray) -> None:
    """Close the top of each 4 of ``img[chosen]``: draw a stroke from the top of its left arm to
    the top of its stem, into ``out`` (N, 784) in place.  ``u``: (M, 2) uniform numbers for the
    chosen images (the ends' jitter).

    The two strokes are found in the top :data:`_FOUR_BAND` of the digit's ink rows: the left arm
    is the ink left of the first empty column after the leftmost ink, the stem the ink right of
    it.  A 4 whose top is already closed (no empty column there) or whose strokes are less than
    3 px apart is left alone, and so is one whose crossbar stops at the stem (does not reach
    :data:`_BAR_PAST_STEM` px past the stem's centre): closed, that shape is a 9.  Each end sits half a pen width below its stroke's top ink row, at
    the ink-weighted column of that row, moved +-0.5 px at random.  Pen width: the ink per row
    across the stem's lower part (only the stem crosses those rows), clipped to 1.5-3.5 px.
    """
    if chosen.size == 0:
        return
    sub = img[chosen]
    m = chosen.size
    inked, top, bottom, height, in_band, split = _four_top_band(sub)
    r = np.arange(SIDE)
    left_side = r[None, :] < split[:, None]  # (M, 28) over columns

    def stroke_top(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top ink row of the band's ink in ``mask`` columns, its ink-weighted column, and presence."""
        where = in_band & mask[:, None, :]
        present = where.any(axis=(1, 2))
        row = where.any(axis=2).argmax(axis=1)
        line = sub[np.arange(m), row] * mask  # (M, 28): that row's ink in those columns
        x = (line @ r.astype(np.float32)) / np.maximum(line.sum(axis=1), 1e-6)
        return row.astype(np.float32), x, present

    left_y, left_x, has_left = stroke_top(left_side)
    right_y, right_x, has_right = stroke_top(~left_side)
    rows = r.astype(np.float32)
    low_row = (bottom - 0.15 * height).astype(np.float32)
    low_x, cross, mass = _band_stats(sub, rows, low_row, 1.0)
    width = np.clip(cross, 1.5, 3.5)
    # The crossbar: the inkiest row between the band and the stem's lower part. Closed, a 4 whose
    # bar stops at the stem is a 9; only a bar reaching past the stem keeps it a 4, so only those
    # are closed (the stem's column at the bar's row is interpolated between its top and low end).
    between = (r[None, :] >= (top + _FOUR_BAND * height)[:, None]) & (r[None, :] <= low_row[:, None] - 1)
    bar_row = np.where(between, sub.sum(axis=2), -1.0).argmax(axis=1)
    along = (bar_row - right_y) / np.maximum(low_row - right_y, 1.0)
    stem_at_bar = right_x + (low_x - right_x) * along
    near_bar = np.abs(r[None, :] - bar_row[:, None]) <= 1  # (M, 28) rows
    past_stem = r[None, :] >= (stem_at_bar + _BAR_PAST_STEM)[:, None]  # (M, 28) columns
    bar_past_stem = (inked & near_bar[:, :, None] & past_stem[:, None, :]).any(axis=(1, 2))
    good = has_left & has_right & (right_x - left_x >= 3.0) & (mass > 0) & bar_past_stem
    half = width / 2
    jitter = u - 0.5  # +-0.5 px along x for each end
    draw_segments(
        out, chosen[good], (left_x + jitter[:, 0])[good], (left_y + half)[good],
        (right_x + jitter[:, 1])[good], (right_y + half)[good], width[good], sub.max(axis=(1, 2))[good],
    )


def add_handwriting_styles(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    probability: float | None = None,
    foot_probability: float | None = None,
    closed_four_probability: float | None = None,
    short_stem_probability: float | None = None,
) -> np.ndarray:
    """Draw European-style strokes onto some 7s, 1s and 4s: crossed 7s, flagged (and footed) 1s,
    closed-top 4s.

    images: (N, 784) or (N, 28, 28) digits in [0, 1] (MNIST scale: ink 1, about 20 px
            tall, centred); any real dtype.  Not modified.
    labels: (N,) the true digit of each image; only 7s, 1s and 4s are changed.
    rng:    np.random.Generator, the only source of randomness.
    probability:      chance that a 7 gets a crossbar and, independently, that a 1 gets a
                      flag (default ``DEFAULTS["style_probability"]``, 0.5).
    foot_probability: chance that a flagged 1 also gets a foot
                      (default ``DEFAULTS["foot_probability"]``, 0.5).
    closed_four_probability: chance that a 4 gets its open top closed
                      (default ``DEFAULTS["closed_four_probability"]``, 0.5); 0 draws no
                      random numbers for it, so the other styles come out as before it existed.
    short_stem_probability: chance that a 4 not closed gets a stem starting at its crossbar
                      (default ``DEFAULTS["short_stem_probability"]``); 0 draws no random numbers.

    What is drawn (ranges in :data:`_STYLE_RANGES`; pen width = the digit's own stroke
    width, measured as the ink per row across its middle rows, clipped to 1.5-3.5 px):

    * 7 -> a crossbar 7-11 px long, tilted up to 10 degrees, through the stem at the
      digit's vertical middle.  The stem is found as the ink-weighted mean column of the
      rows within 1 px of the middle row (in a 7 only the stem crosses those rows).
    * 1 -> a flag 7-14 px long from the top of the stroke down to the left, 15-45 degrees
      below horizontal (but at least 35 degrees shallower than a slanted stroke, or the
      flag would vanish into it); the top is the mean column of the top two ink rows.
      Half the flagged 1s (``foot_probability``) also get a horizontal foot 6-13 px long
      centred (+-1 px) under the bottom of the stroke.
    * 4 -> a stroke joining the top of the left arm to the top of the stem (a "triangle" 4,
      which MNIST's writers leave open and a network trained on them reads as 9);
      see :func:`_close_fours`.

    Images with no ink where the stroke should attach are left alone.  Returns a new
    float32 array of the input's shape with values in [0, 1]; the random numbers are
    drawn for every image (whatever its label), so the result depends only on the
    inputs and the generator's state.  All selected images are drawn at once: a
    distance field from every pixel to every selected image's segment (no Python loop
    over images); ~0.1 s for all 50,000 MNIST training images.
    """
    p = DEFAULTS["style_probability"] if probability is None else float(probability)
    p_foot = DEFAULTS["foot_probability"] if foot_probability is None else float(foot_probability)
    p_four = (DEFAULTS["closed_four_probability"] if closed_four_probability is None
              else float(closed_four_probability))
    p_short = (DEFAULTS["short_stem_probability"] if short_stem_probability is None
               else float(short_stem_probability))
    _check_probabilities(style_probability=p, foot_probability=p_foot, closed_four_probability=p_four,
                         short_stem_probability=p_short)
    batch, shape = _as_batch(images)
    n = batch.shape[0]
    labels = _one_label_per_image(labels, n)

    # Every random number first, for every image: the draw does not depend on the labels.
    u = rng.random((n, 9), dtype=np.float32)
    u_four = rng.random((n, 3), dtype=np.float32) if p_four > 0 else None
    u_short = rng.random((n, 2), dtype=np.float32) if p_short > 0 else None

    def pick(column: int, key: str, chosen: np.ndarray) -> np.ndarray:
        low, high = _STYLE_RANGES[key]
        return low + (high - low) * u[chosen, column]

    out = batch.reshape(n, SIDE * SIDE).copy()
    img = batch.reshape(n, SIDE, SIDE)
    rows = np.arange(SIDE, dtype=np.float32)
    closing = (labels == 4) & (u_four[:, 0] < p_four) if u_four is not None else np.zeros(n, dtype=bool)
    if u_short is not None:  # before closing (img is the untouched input): a 4 gets one or the other
        short = np.flatnonzero((labels == 4) & (u_short[:, 0] < p_short) & ~closing)
        _shorten_four_stems(out, img, short, u_short[short, 1])
    if closing.any():
        fours = np.flatnonzero(closing)
        _close_fours(out, img, fours, u_four[fours, 1:])

    # Top and bottom ink rows of every targeted image (a row with any pixel >= _INK).
    targeted = np.flatnonzero(((labels == 7) | (labels == 1)) & (u[:, 0] < p))
    if targeted.size == 0:
        return out.reshape(shape)
    has_ink = (img[targeted] >= _INK).any(axis=2)  # (M, 28)
    inked = has_ink.any(axis=1)
    targeted, has_ink = targeted[inked], has_ink[inked]
    top = has_ink.argmax(axis=1).astype(np.float32)
    bottom = (SIDE - 1 - has_ink[:, ::-1].argmax(axis=1)).astype(np.float32)
    middle = (top + bottom) / 2
    sub = img[targeted]
    stem_x, cross, mass = _band_stats(sub, rows, middle, 1.0)
    width = np.clip(cross, 1.5, 3.5)
    peak = sub.max(axis=(1, 2))
    ok = mass > 0

    # 7: crossbar through the stem at mid-height.
    sel = (labels[targeted] == 7) & ok
    chosen = targeted[sel]
    if chosen.size:
        length = pick(1, "crossbar_length", chosen)
        tilt = np.deg2rad(pick(2, "crossbar_tilt", chosen))
        cy = middle[sel] + pick(3, "crossbar_height", chosen)
        cx_, _, mass_at = _band_stats(sub[sel], rows, cy, 1.0)
        cx = np.where(mass_at > 0, cx_, stem_x[sel]) + pick(4, "crossbar_offset", chosen)
        hx, hy = length / 2 * np.cos(tilt), length / 2 * np.sin(tilt)
        draw_segments(out, chosen, cx - hx, cy - hy, cx + hx, cy + hy, width[sel], peak[sel])

    # 1: flag from the top of the stroke, down to the left; some also get a foot.
    sel = labels[targeted] == 1
    chosen = targeted[sel]
    if chosen.size:
        half = width[sel] / 2
        top_x, _, top_mass = _band_stats(sub[sel], rows, top[sel] + 0.5, 0.5)  # top two ink rows
        bottom_x, _, _ = _band_stats(sub[sel], rows, bottom[sel] - 0.5, 0.5)  # bottom two rows
        ty = top[sel] + half  # the pen's centre line starts half a width below the top edge
        length = pick(5, "flag_length", chosen)
        # A slanted 1 ("/") runs down-left itself: keep the flag at least _FLAG_GAP degrees
        # shallower than the stroke, or it would vanish into it.
        stem = np.degrees(np.arctan2(bottom[sel] - top[sel], top_x - bottom_x))
        steepest = np.maximum(stem - _FLAG_GAP, 10.0)
        angle = np.deg2rad(np.clip(pick(6, "flag_angle", chosen), 10.0, steepest))
        fine = top_mass > 0
        draw_segments(
            out, chosen[fine], top_x[fine], ty[fine],
            (top_x - length * np.cos(angle))[fine], (ty + length * np.sin(angle))[fine],
            width[sel][fine], peak[sel][fine],
        )
        footed = fine & (u[chosen, 7] < p_foot)
        if footed.any():
            by = bottom[sel] - half
            foot = pick(8, "foot_length", chosen) / 2
            centre = bottom_x + pick(4, "foot_offset", chosen)  # column 4 is free: 7s only
            draw_segments(
                out, chosen[footed], (centre - foot)[footed], by[footed],
                (centre + foot)[footed], by[footed], width[sel][footed], peak[sel][footed],
            )
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)


# --------------------------------------------------------------------------------------
# Random distortions
# --------------------------------------------------------------------------------------


def random_affine_parameters(
    rng: np.random.Generator,
    n: int,
    *,
    shift: float = DEFAULTS["shift"],
    rotation: float = DEFAULTS["rotation"],
    scale: float = DEFAULTS["scale"],
    shear: float = DEFAULTS["shear"],
    stretch: float = DEFAULTS["stretch"],
) -> tuple[np.ndarray, np.ndarray]:
    """Draw n random affine maps: (matrices (n, 2, 2), shifts (n, 2)).

    angle ~ U(-rotation, rotation) degrees, zoom ~ U(1 - scale, 1 + scale),
    shear ~ U(-shear, shear), width factor ~ exp(U(-stretch, stretch)),
    dx, dy ~ U(-shift, shift) pixels.  All zero -> identity.
    """
    for name, value in (("shift", shift), ("rotation", rotation), ("scale", scale), ("shear", shear),
                        ("stretch", stretch)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if scale >= 1:
        raise ValueError(f"scale must be < 1 (zoom factor 1 +- scale), got {scale}")
    u = rng.uniform(-1.0, 1.0, size=(6, n))
    matrices = affine_matrices(rotation * u[0], 1.0 + scale * u[1], shear * u[2], np.exp(stretch * u[5]))
    shifts = shift * u[3:5].T
    return matrices, shifts


def _random_lowres(
    rng: np.random.Generator, n: int, probability: float, block: float, binary_probability: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(chosen, blocks, offsets, thresholds) of :func:`lower_resolution` for n images: each is
    chosen with ``probability``, its coarse pixel spans U(1.1, block) px from a random phase, and
    it is binarised (threshold U(0.3, 0.6)) with ``binary_probability``, else kept grey (NaN)."""
    _check_probabilities(lowres_probability=probability, binary_probability=binary_probability)
    if not block >= _LOWRES_MIN_BLOCK:
        raise ValueError(f"lowres_block must be >= {_LOWRES_MIN_BLOCK}, got {block}")
    u = rng.random((5, n))
    blocks = _LOWRES_MIN_BLOCK + (block - _LOWRES_MIN_BLOCK) * u[1]
    low, high = _BINARY_THRESHOLDS
    thresholds = np.where(u[3] < binary_probability, low + (high - low) * u[4], np.nan)
    return u[0] < probability, blocks, blocks * u[2], thresholds


def swap_in_written_digits(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    probability: float = DEFAULTS["synth_probability"],
    pool_size: float = DEFAULTS["synth_pool"],
) -> np.ndarray:
    """Replace each digit, with ``probability``, by a synthetic written digit of the same label.

    The written digits come from :func:`mnist_app.written_forms.synth_pool` (``pool_size``
    drawings per digit, every form of mnist_app.written_forms.FORMS in turn, rendered in
    MNIST's format once per process): European forms MNIST lacks -- curved-arm "Ч" 4s with short
    or hooked stems, Z-shaped 7s with a crossbar, small-looped 9s with curved tails, flagged and
    footed 1s -- and ordinary forms of every digit, so no form gives its class away. Labels stay
    as they are. Returns a new float32 array of the input's shape (:func:`_swap_from_pool`).
    """
    if pool_size < 1 or pool_size != int(pool_size):
        raise ValueError(f"synth_pool must be a whole number >= 1, got {pool_size}")

    def pool():
        from mnist_app.written_forms import synth_pool  # Pillow drawing: only when used

        return synth_pool(int(pool_size))

    return _swap_from_pool(images, labels, rng, probability, "synth", pool)


def swap_in_optdigits(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    probability: float = DEFAULTS["optdigits_probability"],
) -> np.ndarray:
    """Replace each digit, with ``probability``, by a real handwritten digit of the same label from
    :func:`mnist_app.optdigits.optdigits_pool` (UCI optdigits, 43 writers; needs scikit-learn).
    Returns a new float32 array of the input's shape (:func:`_swap_from_pool`)."""

    def pool():
        from mnist_app.optdigits import optdigits_pool  # scikit-learn's copy of the set: only when used

        return optdigits_pool()

    return _swap_from_pool(images, labels, rng, probability, "optdigits", pool)


def _swap_from_pool(images, labels, rng: np.random.Generator, probability: float, kind: str, pool) -> np.ndarray:
    """Each digit replaced, with ``probability``, by a digit of its label from ``pool()`` (a
    sequence of ten arrays of 784-pixel rows, fetched only if some digit is swapped). Two uniform
    numbers are drawn for every image (swap or not, which pool digit), whatever its label, so the
    result depends only on the inputs and the generator's state."""
    _check_probabilities(**{f"{kind}_probability": probability})
    batch, shape = _as_batch(images)
    n = batch.shape[0]
    labels = _one_label_per_image(labels, n)
    if n and not (np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0 and labels.max() <= 9):
        raise ValueError(f"{kind} needs digit labels 0-9")
    u = rng.random((2, n))
    out = batch.reshape(n, SIDE * SIDE).copy()
    chosen = np.flatnonzero(u[0] < probability)
    if chosen.size:
        digits = pool()
        for digit in np.unique(labels[chosen]):
            rows = chosen[labels[chosen] == digit]
            out[rows] = digits[digit][(u[1, rows] * len(digits[digit])).astype(np.intp)]
    return out.reshape(shape)


def _random_pen(rng: np.random.Generator, n: int, probability: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chosen, widths, thresholds) of :func:`redraw_with_pen` for n images: each is chosen with
    ``probability``; its pen is log-uniform in mnist_app.redraw.WIDTH (a fine pen as often as a
    marker), the trace it follows the ink above U(mnist_app.redraw.THRESHOLD)."""
    from mnist_app.redraw import THRESHOLD, WIDTH

    _check_probabilities(redraw_probability=probability)
    u = rng.random((3, n))
    widths = np.exp(np.log(WIDTH[0]) + (np.log(WIDTH[1]) - np.log(WIDTH[0])) * u[1])
    return u[0] < probability, widths, THRESHOLD[0] + (THRESHOLD[1] - THRESHOLD[0]) * u[2]


def redraw_with_pen(images: np.ndarray, widths: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each digit redrawn along its 1-px path with a pen ``widths[k]`` px wide at 3x resolution,
    then prepared by preprocess.center_digit as predict prepares a drawing (stroke width
    normalised, 20 px box, centred): mnist_app.redraw. Returns float32 in the input's shape."""
    from mnist_app.redraw import redraw  # SciPy and Pillow work: only when used

    batch, shape = _as_batch(images)
    return redraw(batch, widths, thresholds).reshape(shape)


def parse_kind(kind: str) -> tuple[str, ...]:
    """The distortions a kind names, in the order they are applied: ``"both"`` ->
    ``("affine", "elastic")``; ``"elastic+styles"`` -> ``("elastic", "styles")``. ValueError if
    the kind is unknown or names a distortion twice."""
    if kind in KINDS:
        return KINDS[kind]
    names = [part.strip() for part in str(kind).split("+")]
    parts = tuple(p for name in names for p in KINDS.get(name, (name,)))
    if not parts or any(part not in _PARAMS_OF for part in parts) or len(set(parts)) != len(parts):
        raise ValueError(
            f"unknown augmentation kind {kind!r}: use one of {', '.join(KINDS)} "
            "or a '+'-joined combination of these and affine, elastic, thickness, styles, lowres, synth, optdigits, redraw"
        )
    return parts


def augment_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    *,
    kind: str = "affine",
    labels: np.ndarray | None = None,
    chunk_size: int = CHUNK_SIZE,
    **params: float,
) -> np.ndarray:
    """Return a randomly distorted copy of a batch of digits.

    images: (N, 784) (or (N, 28, 28)) pixel values in [0, 1]; any real dtype.
    rng:    np.random.Generator -- the only source of randomness.
    kind:   "affine" (shift, rotation, scale, shear, stretch), "elastic" (alpha, sigma),
            "both" (affine + elastic, one resampling), "thickness", "all",
            "styles" (crossed 7s, flagged 1s, closed 4s: :func:`add_handwriting_styles`),
            "lowres" (a coarse-grid source: :func:`lower_resolution`),
            "synth" (some digits swapped for written ones: :func:`swap_in_written_digits`),
            "optdigits" (some swapped for real ones of another set: :func:`swap_in_optdigits`),
            "redraw" (some digits redrawn along their path with another pen and prepared as
            predict prepares a drawing: :func:`redraw_with_pen`, last of all), or a
            '+'-joined combination such as "affine+thickness" or "all+styles".
    labels: (N,) digit of each image; required when ``kind`` includes "styles", "synth" or
            "optdigits" (ValueError otherwise), ignored by the other distortions.  They come
            first, so the geometric distortions then bend the new strokes as well.
    params: overrides of :data:`DEFAULTS` for the distortions in ``kind``
            (e.g. ``rotation=8.0, alpha=30.0``); a parameter the kind does not use is
            an error, so typos do not pass silently.
    chunk_size: images per step, bounding temporary memory; the result does not
            depend on it (beyond float32 rounding).

    Returns a new float32 array of the input's shape, values in [0, 1].  The input is
    not modified.  Its cost per epoch is small next to training a 784-800-10 network
    (docs/results.md, "Smaller measurements").
    """
    parts = parse_kind(kind)
    allowed = {name for part in parts for name in _PARAMS_OF[part]}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"parameter(s) {', '.join(unknown)} not used by kind {kind!r} "
            f"(uses {', '.join(sorted(allowed))})"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    p = {name: float(params.get(name, DEFAULTS[name])) for name in allowed}

    for needs_labels in ("styles", "synth", "optdigits"):
        if needs_labels in parts and labels is None:
            raise ValueError(f"augmentation kind {kind!r} includes {needs_labels!r}, which needs labels=")

    batch, shape = _as_batch(images)
    n = batch.shape[0]

    # Per-image random numbers for the whole batch first (see "Determinism" above).
    if "styles" in parts:  # drawn first: the strokes then go through every other distortion
        batch = add_handwriting_styles(
            batch, labels, rng,
            probability=p["style_probability"], foot_probability=p["foot_probability"],
            closed_four_probability=p["closed_four_probability"],
            short_stem_probability=p["short_stem_probability"],
        )
    if "synth" in parts:  # after styles (a pool digit is already written in its own form)
        batch = swap_in_written_digits(batch, labels, rng, p["synth_probability"], p["synth_pool"])
    if "optdigits" in parts:  # after synth, before the warps (real digits are warped like the rest)
        batch = swap_in_optdigits(batch, labels, rng, p["optdigits_probability"])
    matrices = shifts = amounts = None
    if "affine" in parts:
        matrices, shifts = random_affine_parameters(
            rng, n, shift=p["shift"], rotation=p["rotation"], scale=p["scale"], shear=p["shear"],
            stretch=p["stretch"],
        )
    if "thickness" in parts:
        _check_probabilities(thickness=p["thickness"])
        amounts = rng.uniform(-p["thickness"], p["thickness"], size=n).astype(np.float32)
    lowres = None
    if "lowres" in parts:
        lowres = _random_lowres(rng, n, p["lowres_probability"], p["lowres_block"], p["binary_probability"])
    pen = _random_pen(rng, n, p["redraw_probability"]) if "redraw" in parts else None
    elastic = "elastic" in parts
    if elastic and not (p["alpha"] >= 0 and p["sigma"] >= 0):
        raise ValueError(f"alpha and sigma must be >= 0, got alpha={p['alpha']}, sigma={p['sigma']}")
    warp = elastic or "affine" in parts
    g = gaussian_matrix(p["sigma"]) if elastic else None

    out = np.empty_like(batch)
    grid_y, grid_x = _pixel_grid()
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        chunk = batch[start:stop]
        if warp:
            sy, sx = grid_y, grid_x
            if elastic:
                noise = rng.random((stop - start, 2, SIDE, SIDE), dtype=np.float32)
                noise *= 2.0
                noise -= 1.0  # U(-1, 1)
                # Smoothed U(-1, 1) fields (transposed: see smooth_displacement).
                field = _blur_transposed(noise.reshape(-1, SIDE, SIDE), g)
                field = field.reshape(stop - start, 2, SIDE * SIDE)
                sx = grid_x + p["alpha"] * field[:, 0]
                sy = grid_y + p["alpha"] * field[:, 1]
            if matrices is not None:
                sy, sx = _affine_source(matrices[start:stop], shifts[start:stop], sy, sx)
            size = (stop - start, SIDE * SIDE)
            chunk = bilinear_sample(chunk, np.broadcast_to(sy, size), np.broadcast_to(sx, size))
        if amounts is not None:
            chunk = change_thickness(chunk, amounts[start:stop])
        if lowres is not None:
            chosen, blocks, offsets, thresholds = lowres
            here = np.flatnonzero(chosen[start:stop])
            if here.size:
                chunk = np.array(chunk, dtype=np.float32, copy=True)
                rows = here + start
                chunk[here] = lower_resolution(chunk[here], blocks[rows], offsets[rows], thresholds[rows])
        if pen is not None:
            chosen, widths, thresholds = pen
            here = np.flatnonzero(chosen[start:stop])
            if here.size:
                chunk = np.array(chunk, dtype=np.float32, copy=True)
                rows = here + start
                chunk[here] = redraw_with_pen(chunk[here], widths[rows], thresholds[rows])
        out[start:stop] = chunk
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(shape)


#: How each style is checked (scripts/measure_styles.py): name -> (digit, add_handwriting_styles
#: keyword arguments; None = the plain digits), each style alone at probability 1.
STYLE_CHECKS = {
    "1 plain": (1, None),
    "1 flagged": (1, {"probability": 1.0, "foot_probability": 0.0, "closed_four_probability": 0.0}),
    "1 flagged+footed": (1, {"probability": 1.0, "foot_probability": 1.0, "closed_four_probability": 0.0}),
    "4 plain": (4, None),
    "4 closed top": (4, {"probability": 0.0, "closed_four_probability": 1.0}),
    "7 plain": (7, None),
    "7 crossed": (7, {"probability": 1.0, "closed_four_probability": 0.0}),
}


def read_styles(network, images: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, dict]:
    """How ``network`` reads each of :data:`STYLE_CHECKS` drawn onto ``images`` (MNIST test
    digits, never trained on): per check ``{"n", "accuracy", "read_as": {digit: count}}`` (a digit
    the style could not be drawn on is not counted), then ``"MNIST test"``: ``{"n", "accuracy"}``."""
    results = {}
    for name, (digit, style) in STYLE_CHECKS.items():
        x = images[labels == digit]
        y = labels[labels == digit]
        if style is not None:
            drawn = add_handwriting_styles(x, y, np.random.default_rng(seed), **style)
            changed = (drawn != x).any(axis=1)
            x, y = drawn[changed], y[changed]
        predicted = network.predict(x.astype(np.float32))
        wrong = predicted[predicted != y]
        results[name] = {
            "n": int(len(y)),
            "accuracy": float(np.mean(predicted == y)),
            "read_as": {str(d): int(c) for d, c in zip(*np.unique(wrong, return_counts=True))},
        }
    results["MNIST test"] = {"n": int(len(labels)), "accuracy": float(np.mean(network.predict(images) == labels))}
    return results
