"""Where the digits are: an ink map -> one box per digit, left to right.

A number written in a row ("2026", a phone number) is read digit by digit, so the ink is first cut
into digits. Handwriting makes that less simple than "one connected blob per digit": one digit
can be several blobs (the detached top bar of a 5, a 4 drawn in two strokes, a fine pen's dotted
line) and two digits can touch. So:

1. **pieces**: connected blobs of ink (8-neighbours); specks lighter than SPECK_SHARE of the
   heaviest blob are ignored.
2. **columns**: digits written in a row are separated by empty columns; the pieces' columns are
   projected onto the x axis and cut at gaps at least MIN_GAP of the writing's height wide.
   Pieces of one digit overlap in x (the 5's bar lies over its body), so they stay together.
3. **small groups**: a group much shorter than the writing (under MIN_HEIGHT of the tallest: a
   dot, a dash, a stray piece) or much lighter (under LIGHT_GROUP of the median group's ink: a
   digit's stray dots one above the other) is joined to its neighbour when it is close, else
   dropped -- so that digit's crop holds them, as it would if it were written alone.
4. **touching digits**: a group far wider than a digit (more than TOUCHING_WIDTH x its height)
   is cut where its vertical projection (ink per column) is thinnest near where evenly spaced
   digits would meet -- only there, and only if that column holds little ink (CUT_INK of the
   group's mean column) and every part left is PART_HEIGHT of the group's height tall (a 2's
   long tail is not a digit), so a wide single digit is not cut.

Everything returns boxes in the ink map's pixel coordinates; each digit's own ink is the ink
inside its box that belongs to its pieces (``Digit.ink``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPECK_SHARE = 0.02  # pieces lighter than this share of the heaviest are specks
MIN_GAP = 0.08  # empty columns separating digits: at least this x the writing's height (>= 2 px)
MIN_HEIGHT = 0.4  # a group shorter than this x the tallest is a fragment ...
JOIN_GAP = 0.25  # ... joined to a neighbour no further than this x the tallest's height
TOUCHING_WIDTH = 1.25  # a group wider than this x its height holds touching digits, as does one
TOUCHING_VS_OTHERS = 1.35  # wider than this x the median width of the row's other groups (>= 3)
PAIR_MIN_WIDTH = 1.0  # ... and then at least as wide as tall: two digits side by side are (a wide 4 is not)
LIGHT_GROUP = 0.15  # a group with less ink than this x the median group's is a fragment, however tall
DIGIT_WIDTH = 0.7  # expected width of one digit, x the height (to count touching digits)
CUT_INK = 0.5  # a cut column holds at most this x the group's mean ink per (inked) column
PART_HEIGHT = 0.6  # and every part it leaves is at least this x the group's height tall


@dataclass(frozen=True)
class Digit:
    """One digit's place: its box ``(top, bottom, left, right)`` (end-exclusive) and its ink."""

    box: tuple[int, int, int, int]
    ink: np.ndarray  # the whole image's shape: this digit's ink, 0 elsewhere


def _column_groups(columns: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """Runs of columns with ink, split where at least ``min_gap`` empty columns lie between."""
    xs = np.flatnonzero(columns)
    if xs.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(xs) > min_gap)
    starts = np.concatenate(([xs[0]], xs[breaks + 1]))
    ends = np.concatenate((xs[breaks], [xs[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _rows(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)


def _split_touching(ink: np.ndarray, x0: int, x1: int, height: int, typical_width: float | None) -> list[tuple[int, int]]:
    """Cut the columns [x0, x1) of a too-wide group into digits at thin columns, or keep it.

    Too wide: wider than TOUCHING_WIDTH x its height, or -- when the row has other digits to
    compare with -- than TOUCHING_VS_OTHERS x their median width (and PAIR_MIN_WIDTH x its
    height: a wide single 4 or 8 beside narrow 1s and 7s is still one digit)."""
    width = x1 - x0
    wide_alone = width > TOUCHING_WIDTH * height
    wide_vs_others = (typical_width is not None and width > TOUCHING_VS_OTHERS * typical_width
                      and width >= PAIR_MIN_WIDTH * height)
    if not (wide_alone or wide_vs_others):
        return [(x0, x1)]
    one = typical_width if typical_width is not None else DIGIT_WIDTH * height
    count = max(2, round(width / one))
    profile = ink[:, x0:x1].sum(axis=0)
    typical = float(profile[profile > 0].mean()) if (profile > 0).any() else 0.0
    cuts = []
    for k in range(1, count):
        expected = round(k * width / count)
        lo, hi = max(1, expected - width // (3 * count)), min(width - 1, expected + width // (3 * count) + 1)
        if hi <= lo:
            continue
        best = lo + int(np.argmin(profile[lo:hi]))
        if profile[best] <= CUT_INK * typical:
            cuts.append(best)
    if not cuts:
        return [(x0, x1)]
    edges = [0, *cuts, width]
    parts = [(x0 + a, x0 + b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    # every part must stand as tall as a digit: a long tail or bar cut off is not one
    for a, b in parts:
        top, bottom = _rows(ink[:, a:b] > 0)
        if bottom - top < PART_HEIGHT * height:
            return [(x0, x1)]
    return parts


def find_digits(ink: np.ndarray) -> list[Digit]:
    """The digits in an ink map (float, ink > 0), left to right; [] if there is no ink."""
    from scipy import ndimage  # lazily, as in preprocess

    mask = ink > 0
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    mass = np.asarray(ndimage.sum_labels(ink, labels, np.arange(1, n + 1)), dtype=np.float64)
    kept = np.concatenate(([False], mass >= SPECK_SHARE * mass.max()))
    ink = np.where(kept[labels], ink, np.float32(0))
    mask = ink > 0
    height = _rows(mask)[1] - _rows(mask)[0]
    groups = _column_groups(mask.any(axis=0), max(2, round(MIN_GAP * height)))

    # fragments: joined to the nearer full-height neighbour if close enough, else dropped
    tall = [_rows(mask[:, a:b])[1] - _rows(mask[:, a:b])[0] for a, b in groups]
    tallest = max(tall)
    ink_of = [float(ink[:, a:b].sum()) for a, b in groups]
    median_ink = float(np.median(ink_of))
    # a fragment is short, or light however tall its pieces spread (a digit's stray dots, one
    # above the other, span half a digit's height but hold a few percent of its ink)
    is_digit = [h >= MIN_HEIGHT * tallest and m >= LIGHT_GROUP * median_ink for h, m in zip(tall, ink_of)]
    full = [list(g) for g, keep in zip(groups, is_digit) if keep]
    for (a, b), keep in zip(groups, is_digit):
        if keep:
            continue
        gaps = [(max(g[0] - b, a - g[1], 0), i) for i, g in enumerate(full)]
        if gaps and min(gaps)[0] <= JOIN_GAP * tallest:
            g = full[min(gaps)[1]]
            g[0], g[1] = min(g[0], a), max(g[1], b)

    widths = [b - a for a, b in full]
    typical_width = float(np.median(widths)) if len(widths) >= 3 else None
    digits = []
    for a, b in full:
        h = _rows(mask[:, a:b])
        for x0, x1 in _split_touching(ink, a, b, h[1] - h[0], typical_width):
            own = np.zeros_like(ink)
            own[:, x0:x1] = ink[:, x0:x1]
            top, bottom = _rows(own > 0)
            if bottom > top:
                digits.append(Digit((top, bottom, x0, x1), own))
    return digits
