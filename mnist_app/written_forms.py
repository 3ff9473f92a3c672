"""Synthetic written digits of all ten classes in MNIST's format, for training ("synth" in
mnist_app.augment).

MNIST's writers were American; many people write some digits in forms MNIST (almost) never
shows, and a network trained on it reads them as other digits (docs/results.md, "Written
forms"): a 4 whose left arm curves into the bar, like a Cyrillic "Ч", with a short stem that may
lean or hook (read as 6 or 9); a 7 written as a Z with a crossbar and a curved foot (read as 2); a
9 with a small or filled loop and a curved tail (read as 3, 8 or 4); a 1 with a long flag and a
foot (read as 2, 7 or 4). Geometric distortions cannot turn an MNIST 4 into those shapes, so this
module draws them -- and the ordinary forms of every digit too, so that no form is a giveaway of
its class: a curved-arm 4 must be told from a 6 by its shape, not by being the only curved
drawing the network ever sees.

Each form is a skeleton of strokes in a unit box (x right, y down), written from a description of
the kind of handwriting -- nothing is traced from any test or dev image. Every drawing moves the
form's corners, bends the glyph (mnist_app.strokes' elastic ``_warp``) and each stroke
(``_wobble``), and picks a slant, rotation, aspect ratio and pen width, as
mnist_app.strokes.draw_strokes does for its drawings. It is then rendered as MNIST's digits were
made (LeCun et al., the MNIST page: size-normalised to fit a 20x20 box preserving the aspect
ratio, anti-aliased, centred by its centre of mass in a 28x28 field): drawn 4x supersampled with
a round pen 1.6-3.2 px wide (MNIST's strokes), box-averaged down to 28x28, ink peak 1.

:func:`synth_pool` renders a fixed pool once per process (cached, about 0.4 s per 1,000 digits);
mnist_app.augment swaps a fraction of each epoch's training digits for pool digits of the same
label *before* its warps, so they get the same affine, elastic and low-resolution distortions.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from mnist_app.image_format import SIDE
from mnist_app.preprocess import center_of_mass
from mnist_app.strokes import DIGIT_FORMS, Form, Stroke, _arc, _densify, _forms, _warp, _wobble

SUPERSAMPLE = 4
"""Drawing resolution: each 28x28 pixel is drawn as 4x4 and averaged (anti-aliasing)."""

BOX = 20.0
"""MNIST's digits fill a 20x20 box (the longer side, pen included) in the 28x28 field."""

PEN_WIDTH = (1.6, 3.2)
"""Pen width in 28x28 pixels, uniform: the range of MNIST's own strokes."""

POOL_SEED = 20261126
"""Seed of the pool: fixed, so a run is reproducible and --resume sees the same pool; each run's
own generator chooses which pool digits replace which training digits and how they are warped."""


def _bend(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 12) -> Stroke:
    """A quadratic Bezier from p0 to p2 pulled towards p1: a rounded corner, a curved stroke."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c = (np.asarray(p, dtype=float) for p in (p0, p1, p2))
    pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c
    return [tuple(p) for p in pts]


# Forms beyond mnist_app.strokes.DIGIT_FORMS (which are all used too). European and other forms
# MNIST lacks, and more ordinary ones, so every digit has curved, straight, open and closed forms.
EXTRA_FORMS: dict[str, list[Form]] = {
    "0": _forms([_arc(0.5, 0.5, 0.5, 0.5, -120, 250, 40)],
                [_arc(0.5, 0.5, 0.42, 0.5, -60, 310, 40) + [(0.75, 0.1)]]),
    "1": _forms(
        # A long flag from a third of the height, with and without a foot.
        [[(0.05, 0.4), (0.6, 0), (0.6, 1)]],
        [[(0.05, 0.35), (0.6, 0), (0.6, 1)], [(0.15, 1), (0.95, 1)]],
        # A curved flag, a foot.
        [_bend((0.1, 0.35), (0.35, 0.2), (0.6, 0)) + [(0.6, 1)], [(0.3, 1), (0.9, 1)]],
        # A short flag and a stem slanting right.
        [[(0.3, 0.15), (0.55, 0), (0.45, 1)]],
    ),
    "2": _forms(
        [_arc(0.5, 0.28, 0.42, 0.28, 190, 380) + _bend((0.85, 0.45), (0.4, 0.75), (0.05, 1)) + [(1, 0.98)]],
        [_arc(0.45, 0.3, 0.4, 0.3, 200, 380) + [(0.1, 1)] + _bend((0.1, 1), (0.5, 0.85), (1, 1))],
    ),
    "3": _forms([_arc(0.45, 0.25, 0.4, 0.25, 210, 440) + _arc(0.45, 0.72, 0.45, 0.28, 280, 500)],
                [[(0.1, 0.05), (0.9, 0), (0.35, 0.42)] + _arc(0.45, 0.7, 0.45, 0.3, -80, 160)]),
    "4": _forms(
        # "Ч": the left arm comes down and curves into the bar; the stem from the top.
        [[(0.1, 0)] + _bend((0.05, 0.35), (0.05, 0.62), (0.4, 0.62)) + [(1, 0.6)], [(0.72, 0), (0.7, 1)]],
        # ... with a short stem that starts just above the bar (often leaning).
        [[(0.1, 0)] + _bend((0.05, 0.35), (0.1, 0.65), (0.45, 0.6)) + [(1, 0.57)], [(0.78, 0.3), (0.62, 1)]],
        # ... with a stem that hooks at its foot.
        [[(0.15, 0)] + _bend((0.05, 0.4), (0.1, 0.65), (0.5, 0.62)) + [(1, 0.6)],
         [(0.72, 0.1), (0.7, 0.85)] + _bend((0.7, 0.85), (0.68, 1), (0.5, 0.95), 6)],
        # A diagonal arm bending into the bar, a short stem.
        [[(0.55, 0)] + _bend((0.1, 0.5), (0.0, 0.65), (0.3, 0.65)) + [(1, 0.62)], [(0.75, 0.25), (0.72, 1)]],
        # One stroke: down, along the bar, up to the stem's top and down over it.
        [[(0.1, 0)] + _bend((0.05, 0.4), (0.05, 0.6), (0.35, 0.6)) + [(0.8, 0.6), (0.75, 0.05), (0.72, 1)]],
        # An arm curved like a "(" from the top, bending into the bar; a stem crossing it.
        [_bend((0.55, 0), (-0.15, 0.3), (0.3, 0.65)) + [(1, 0.6)], [(0.75, 0.15), (0.7, 1)]],
        [_bend((0.45, 0), (-0.1, 0.45), (0.35, 0.6)) + [(0.95, 0.5)], [(0.72, 0.3), (0.75, 1)]],
        # A long arm from the top right down to a low bar, and a short stem below the bar only.
        [[(0.6, 0), (0.02, 0.68), (1, 0.66)], [(0.75, 0.5), (0.72, 1)]],
        [_bend((0.65, 0), (0.0, 0.45), (0.05, 0.72)) + [(0.95, 0.68)], [(0.7, 0.55), (0.72, 1)]],
        [_bend((0.45, 0), (0.05, 0.5), (0.1, 0.75)) + [(1, 0.72)], [(0.8, 0.6), (0.75, 1)]],
        # A straight left arm, a low bar, a short stem hooked at the foot.
        [[(0.05, 0), (0.05, 0.7), (0.95, 0.7)], [(0.65, 0.45), (0.65, 0.9)] + _bend((0.65, 0.9), (0.7, 1.02), (0.85, 0.95), 6)],
        # "h"-like: the arm's curve meets the stem low, the stem overshoots the top.
        [[(0.05, 0.1)] + _bend((0.05, 0.45), (0.15, 0.7), (0.65, 0.55)) + [(0.95, 0.55)], [(0.7, 0), (0.65, 1)]],
    ),
    "5": _forms([[(0.85, 0.02), (0.2, 0), (0.1, 0.45)] + _bend((0.1, 0.45), (0.9, 0.25), (0.85, 0.7))
                 + _bend((0.85, 0.7), (0.7, 1.05), (0.05, 0.9))]),
    "6": _forms([_bend((0.75, 0), (0.15, 0.3), (0.12, 0.72)) + _arc(0.5, 0.75, 0.38, 0.25, 180, 540)],
                [[(0.6, 0), (0.2, 0.6)] + _arc(0.5, 0.78, 0.32, 0.22, 200, 560)]),
    "7": _forms(
        # A Z with a crossbar: top bar, diagonal, a foot to the right.
        [[(0, 0.02), (1, 0), (0.15, 1), (0.8, 0.97)], [(0.25, 0.52), (0.85, 0.48)]],
        # ... whose foot curls up.
        [[(0, 0.05), (1, 0), (0.35, 0.8)] + _bend((0.35, 0.8), (0.2, 1.02), (0.65, 0.92)),
         [(0.3, 0.48), (0.9, 0.45)]],
        # A tick down at the start of the top bar, a crossbar, a curved stem.
        [[(0.0, 0.15), (0.05, 0), (1, 0)] + _bend((1, 0), (0.45, 0.45), (0.4, 1)), [(0.35, 0.5), (0.95, 0.5)]],
        # A long crossbar reaching far right of the stem; a stem curling into a foot.
        [[(0, 0), (0.75, 0.02)] + _bend((0.75, 0.02), (0.35, 0.55), (0.25, 0.95)) + [(0.55, 1)],
         [(0.15, 0.5), (1, 0.45)]],
        # A stem bending to vertical, no crossbar; and with one.
        [[(0, 0), (0.95, 0)] + _bend((0.95, 0), (0.5, 0.4), (0.5, 1))],
        [[(0.05, 0.1), (0.1, 0), (1, 0)] + _bend((1, 0), (0.6, 0.45), (0.5, 1)), [(0.3, 0.55), (0.85, 0.5)]],
    ),
    "8": _forms([_arc(0.5, 0.26, 0.3, 0.26, 45, -315) + _arc(0.5, 0.74, 0.45, 0.26, -90, 270)],
                [_bend((0.8, 0.1), (0.5, -0.1), (0.2, 0.15)) + _bend((0.2, 0.15), (0.3, 0.4), (0.8, 0.7))
                 + _bend((0.8, 0.7), (0.6, 1.1), (0.2, 0.75)) + _bend((0.2, 0.75), (0.6, 0.4), (0.8, 0.1))]),
    "9": _forms(
        # A small loop and a long straight tail.
        [_arc(0.5, 0.22, 0.32, 0.22, 0, 360), [(0.82, 0.22), (0.78, 1)]],
        # ... whose tail curves left at the bottom.
        [_arc(0.5, 0.25, 0.35, 0.25, 0, 360), [(0.85, 0.25), (0.82, 0.75)] + _arc(0.55, 0.75, 0.27, 0.25, 0, 150)],
        # A loop drawn from its right side and a tail curving under, like a "g".
        [_arc(0.45, 0.28, 0.38, 0.28, 10, -350) + _bend((0.83, 0.33), (0.85, 1.1), (0.15, 0.9))],
        # A tiny loop (a pen this wide fills it) and a tail slanting left.
        [_arc(0.55, 0.18, 0.25, 0.18, 0, 360), [(0.8, 0.18), (0.4, 1)]],
        # A loop, a tail sweeping down to the left, and a flat stroke back to the right at the bottom.
        [_arc(0.5, 0.22, 0.33, 0.22, 0, 360), _bend((0.83, 0.22), (0.75, 0.75), (0.1, 0.95)) + [(0.9, 1)]],
        # Written from the tail up: a slanted stem, the loop at its top on the right (a slanted "P").
        [[(0.05, 1), (0.45, 0.05)] + _arc(0.65, 0.22, 0.3, 0.2, 230, 510) + [(0.4, 0.35)]],
        # A loop and a tail curving out to the right then down.
        [_arc(0.45, 0.28, 0.38, 0.28, 0, 360), _bend((0.83, 0.28), (0.95, 0.7), (0.6, 1))],
    ),
}

FORMS: dict[int, list[Form]] = {
    int(digit): DIGIT_FORMS[digit] + EXTRA_FORMS.get(digit, []) for digit in DIGIT_FORMS
}
"""Every form drawn for each digit: mnist_app.strokes.DIGIT_FORMS plus EXTRA_FORMS."""


def _skeleton(form: Form, rng: np.random.Generator) -> list[np.ndarray]:
    """The form's strokes as (k, 2) point arrays after a random hand's changes: corners moved,
    the glyph bent, each stroke wobbled, then slanted, turned and stretched (arbitrary units)."""
    aspect = rng.uniform(0.55, 1.1)  # width / height
    angle = np.radians(rng.uniform(-12, 12))
    slant = rng.uniform(-0.35, 0.3)
    jitter, bend = rng.uniform(0, 0.05), rng.uniform(0, 0.07)
    warp_seed = int(rng.integers(1 << 31))
    cos, sin = np.cos(angle), np.sin(angle)
    out = []
    for stroke in form:
        corners = np.asarray(stroke, dtype=float)
        if len(corners) < 8:  # polyline corners; curves keep their shape and move as a whole
            corners = corners + rng.normal(0, jitter, corners.shape)
        pts = _densify(corners) + rng.normal(0, jitter * 0.4, 2)
        pts = _warp(pts, np.random.default_rng(warp_seed), bend)  # the same bend for every stroke
        pts = _wobble(pts, rng, rng.uniform(0.005, 0.03))
        x = (pts[:, 0] - 0.5) * aspect + slant * (pts[:, 1] - 0.5)
        y = pts[:, 1] - 0.5
        out.append(np.stack([x * cos - y * sin, x * sin + y * cos], axis=1))
    return out


def render(strokes: list[np.ndarray], pen: float, box: float = BOX) -> np.ndarray:
    """Strokes (arbitrary units) as a 28x28 float32 digit in MNIST's format: scaled so the longer
    side of the inked box (pen included) is ``box`` px, drawn with a round pen ``pen`` px wide at
    4x resolution, box-averaged to 28x28, ink peak 1, centre of mass moved to the field's centre
    (whole pixels, as MNIST did)."""
    pts = np.concatenate(strokes)
    low, high = pts.min(axis=0), pts.max(axis=0)
    extent = max(float((high - low).max()), 1e-6)
    scale = (box - pen) / extent * SUPERSAMPLE
    big = SIDE * SUPERSAMPLE
    offset = big / 2 - (low + high) / 2 * scale
    image = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(image)
    width = pen * SUPERSAMPLE
    r = width / 2
    for stroke in strokes:
        xy = stroke * scale + offset
        draw.line([tuple(p) for p in xy], fill=255, width=max(1, round(width)), joint="curve")
        for px, py in (xy[0], xy[-1]):  # round pen ends
            draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
    a = np.asarray(image, dtype=np.float32).reshape(SIDE, SUPERSAMPLE, SIDE, SUPERSAMPLE).mean(axis=(1, 3))
    a /= max(float(a.max()), 1e-6)
    if a.sum() <= 0:
        return a
    cy, cx = center_of_mass(a)
    dy, dx = int(round((SIDE - 1) / 2 - cy)), int(round((SIDE - 1) / 2 - cx))
    out = np.zeros_like(a)
    ys, yd = (slice(0, SIDE - dy), slice(dy, SIDE)) if dy >= 0 else (slice(-dy, SIDE), slice(0, SIDE + dy))
    xs, xd = (slice(0, SIDE - dx), slice(dx, SIDE)) if dx >= 0 else (slice(-dx, SIDE), slice(0, SIDE + dx))
    out[yd, xd] = a[ys, xs]
    return out


def draw_digit(digit: int, rng: np.random.Generator, form: int | None = None) -> np.ndarray:
    """One written ``digit`` (28x28 float32, MNIST's format) in a random form of FORMS[digit]
    (or form number ``form``), with a random hand and pen."""
    forms = FORMS[int(digit)]
    chosen = forms[int(rng.integers(len(forms)))] if form is None else forms[form]
    strokes = _skeleton(chosen, rng)
    pen = rng.uniform(*PEN_WIDTH)
    return render(strokes, pen, box=BOX - rng.uniform(0.0, 1.5))


@lru_cache(maxsize=2)
def synth_pool(per_digit: int, seed: int = POOL_SEED) -> np.ndarray:
    """A read-only (10, per_digit, 784) float32 pool of written digits: ``pool[d]`` holds
    ``per_digit`` drawings of digit d, its forms used in turn (each equally often). Rendered once
    per process for each (per_digit, seed)."""
    if per_digit < 1:
        raise ValueError(f"per_digit must be >= 1, got {per_digit}")
    rng = np.random.default_rng(seed)
    pool = np.empty((10, per_digit, SIDE * SIDE), dtype=np.float32)
    for digit in range(10):
        n_forms = len(FORMS[digit])
        for k in range(per_digit):
            pool[digit, k] = draw_digit(digit, rng, form=k % n_forms).ravel()
    pool.setflags(write=False)
    return pool
