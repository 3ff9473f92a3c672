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
4b. **a lone group stays whole when it reads as a digit** (with a ``judge``): when the image
   holds one group and step 4 cut it, the cut is undone if the whole reads at least LONE_KEEP
   and no worse than its weakest part -- a wide 0 or 3 written with a fine pen that skips has
   thin columns at its gaps, and was cut into a "number".
5. **touching digits the network can tell apart** (only when a ``judge`` is given:
   number.confidence_judge, how much a piece of ink looks like a digit to the network): a group
   too wide for one digit (as in 4) with no thin column -- two digits written into each other --
   is cut where *both* halves look most like digits (the largest minimum of the two), only if
   both halves then reach SPLIT_CONFIDENCE and the whole group does not look like a digit (below
   unsure's MIN_TOP_OUTPUT: it would be answered "unsure, low confidence"). The network reads
   half of a wide 9 or 4 as a confident 5 or 1, so a whole that reads well is never cut. The
   cuts tried are the ink profile's lowest minima in the group's middle (JUDGE_CUTS) and, in a
   row of several groups, EVEN_CUTS evenly spaced columns there too (the meeting point of two
   digits written into each other is often no minimum of the profile).
6. **where a cut runs**: in a row of several groups, a cut (4 or 5) is not a straight column but
   the path from the group's top to its bottom that crosses the least ink within CUT_BEND of its
   column (`_valley_paths`): two digits written into each other overlap in x, and a straight
   column slices a stroke off each, while the valley path goes round them and crosses where they
   meet; step 5 tries both the path and the straight column at each candidate. A lone group (an
   image of one digit) is cut as before, straight at the profile's minima, so a single digit
   keeps its reading.
7. **a digit touching its neighbour at a thin bridge** (with a ``judge``, in a row of several
   groups): a group not too wide for one digit but at least NARROW_PAIR x as wide as tall (a 1
   written into its neighbour makes a pair no wider than a 0) is cut as in 5, but only along a
   path that crosses at most BRIDGE_PENS pen widths of ink: cutting a single digit in two crosses
   more (a 0 twice, a 4's bar and stem where they cross), two digits that touch cross where they
   meet (docs/numbers.md has the measurements).

Everything returns boxes in the ink map's pixel coordinates; each digit's own ink is the ink
inside its box that belongs to its pieces (``Digit.ink``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnist_app.preprocess import stroke_width

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
JUDGE_MARGIN = 0.2  # judged cuts lie in the group's middle, this share of its width from each end
JUDGE_CUTS = 4  # at most this many candidate columns (the lowest ink-profile minima) are judged
SPLIT_CONFIDENCE = 0.9  # both halves' judged digit-likeness at least this (raw top sigmoid output)
EVEN_CUTS = 9  # ... and, in a row of several groups, this many evenly spaced columns in the middle
CUT_BEND = 0.15  # a cut may bend this x the group's height to either side of its column (a valley path)
LONE_KEEP = 0.9  # a lone group the profile cut (4) stays whole if it reads at least this and no worse than a part
NARROW_PAIR = 0.7  # in a row, a group not too wide but at least this x as wide as tall may be two digits ...
BRIDGE_PENS = 1.5  # ... touching where a cut crosses at most this many pen widths of ink
BRIDGE_PART = 0.75  # ... and leaves on each side one connected stroke at least this x the group's height tall

Judge = Callable[[list[np.ndarray]], np.ndarray]  # ink crops -> the network's confidence in each


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


def _height(mask: np.ndarray) -> int:
    top, bottom = _rows(mask)
    return bottom - top


def _too_wide(width: int, height: int, typical_width: float | None) -> bool:
    """Wider than one digit: than TOUCHING_WIDTH x its height, or -- when the row has other digits
    to compare with -- than TOUCHING_VS_OTHERS x their median width (and PAIR_MIN_WIDTH x its
    height: a wide single 4 or 8 beside narrow 1s and 7s is still one digit)."""
    wide_alone = width > TOUCHING_WIDTH * height
    wide_vs_others = (typical_width is not None and width > TOUCHING_VS_OTHERS * typical_width
                      and width >= PAIR_MIN_WIDTH * height)
    return wide_alone or wide_vs_others


def _valley_paths(region: np.ndarray, columns: list[int], bend: int) -> list[np.ndarray]:
    """For each of ``columns``, the cut through ``region`` from its top row to its bottom row near
    it: per row, the column where the right-hand piece begins. It is the path crossing the least
    ink (dynamic programming, at most one column sideways per row, within ``bend`` columns of its
    column: the shortest-path cut of touching-digit segmentation), so where two digits were written
    into each other it goes round their strokes and crosses them where they meet, instead of
    slicing both along a straight column."""
    height, width = region.shape
    if bend <= 0 or not columns:
        return [np.full(height, c, dtype=np.int64) for c in columns]
    centre = np.asarray(columns)[:, None]
    xs = np.clip(centre + np.arange(-bend, bend + 1)[None, :], 1, width - 1)  # (paths, band)
    # the ink crossed, plus a little for each column away from the chosen one (ties go straight)
    cost = region[:, xs].astype(np.float64) + 1e-3 * np.abs(xs - centre)[None]  # (rows, paths, band)
    step = np.zeros(cost.shape, dtype=np.int8)  # -1, 0, 1: the band index the path came from, relative
    padded = np.full((len(columns), xs.shape[1] + 2), np.inf)  # the running totals, inf beyond the band
    padded[:, 1:-1] = cost[0]
    for y in range(1, height):
        left, here, right = padded[:, :-2], padded[:, 1:-1], padded[:, 2:]
        best = np.minimum(np.minimum(left, here), right)
        step[y] = np.where(here == best, 0, np.where(left == best, -1, 1))
        padded[:, 1:-1] = best + cost[y]
    total = padded[:, 1:-1]
    index = np.argmin(total, axis=1)
    lines = np.arange(len(columns))
    paths = np.empty((len(columns), height), dtype=np.int64)
    for y in range(height - 1, -1, -1):
        paths[:, y] = xs[lines, index]
        index = index + step[y, lines, index]
    return list(paths)


def _pieces(region: np.ndarray, paths: list[np.ndarray]) -> list[np.ndarray]:
    """``region`` cut along ``paths`` (left to right): each piece's ink, in the region's shape."""
    xs = np.arange(region.shape[1])[None, :]
    edges = [np.zeros(region.shape[0], np.int64), *paths, np.full(region.shape[0], region.shape[1], np.int64)]
    return [np.where((xs >= a[:, None]) & (xs < b[:, None]), region, np.float32(0)) for a, b in zip(edges[:-1], edges[1:])]


def _tall_enough(pieces: list[np.ndarray], height: int) -> bool:
    """Every piece stands at least PART_HEIGHT x the group's height tall (a 2's tail is no digit)."""
    for piece in pieces:
        top, bottom = _rows(piece > 0)
        if bottom - top < PART_HEIGHT * height:
            return False
    return True


def _split_touching(region: np.ndarray, height: int, typical_width: float | None, bend: int) -> list[np.ndarray]:
    """The pieces (`_pieces`) of a too-wide group (`_too_wide`; ``region`` is its columns) cut into
    digits at thin columns (`_valley_paths`); [] to keep it whole."""
    width = region.shape[1]
    if not _too_wide(width, height, typical_width):
        return []
    one = typical_width if typical_width is not None else DIGIT_WIDTH * height
    count = max(2, round(width / one))
    profile = region.sum(axis=0)
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
        return []
    pieces = _pieces(region, _valley_paths(region, cuts, bend))
    # every part must stand as tall as a digit: a long tail or bar cut off is not one
    return pieces if _tall_enough(pieces, height) else []


def _tallest_stroke(piece: np.ndarray) -> int:
    """The height of the tallest connected part of a piece's ink (8-neighbours)."""
    from scipy import ndimage

    labels, _ = ndimage.label(piece > 0, structure=np.ones((3, 3), dtype=bool))
    return max((s[0].stop - s[0].start for s in ndimage.find_objects(labels)), default=0)


def _crossing(region: np.ndarray, path: np.ndarray) -> int:
    """How many pixels of ink (> 0.5) a cut path runs through (a `_valley_paths` path: its columns
    lie inside the region)."""
    return int((region[np.arange(region.shape[0]), path] > 0.5).sum())


def _bend(height: int) -> int:
    """How far (columns) a cut through a group this tall may bend to either side (CUT_BEND)."""
    return round(CUT_BEND * height)


def _cut_candidates(profile: np.ndarray, even: int) -> list[int]:
    """Columns (offsets into ``profile``) worth cutting at: local minima of the ink per column in
    the group's middle, lowest first, at most JUDGE_CUTS of them, then evenly spaced columns."""
    width = profile.size
    lo, hi = max(1, int(JUDGE_MARGIN * width)), min(width - 1, int(np.ceil((1 - JUDGE_MARGIN) * width)))
    if hi <= lo:
        return []
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    minima = [c for c in range(lo, hi) if smooth[c] <= smooth[c - 1] and smooth[c] <= smooth[min(c + 1, width - 1)]]
    minima.sort(key=lambda c: smooth[c])
    picked: list[int] = []
    for c in minima:  # keep them apart: neighbouring columns of one valley are one candidate
        if all(abs(c - p) > 2 for p in picked):
            picked.append(c)
        if len(picked) == JUDGE_CUTS:
            break
    for c in np.linspace(lo, hi - 1, even).round().astype(int).tolist():
        if all(abs(c - p) > 2 for p in picked):
            picked.append(c)
    return picked


def _split_by_judge(region: np.ndarray, height: int, judge: Judge, bend: int, even: int,
                    bridge: float | None = None) -> list[np.ndarray]:
    """The two pieces of ``region`` cut where both halves read most like digits, if both do and
    the whole does not (step 5); [] to keep it whole. With ``bridge``, only cuts crossing at
    most that many pen widths of ink are tried (step 7)."""
    from mnist_app.unsure import MIN_TOP_OUTPUT

    paths, halves = [], []
    columns = _cut_candidates(region.sum(axis=0), even)
    straight = _valley_paths(region, columns, 0)
    for path in (_valley_paths(region, columns, bend) if bend else []) + straight:
        if any(np.array_equal(path, p) for p in paths):
            continue  # two columns of one valley, or a path that did not bend: judged once
        if bridge is not None and _crossing(region, path) > bridge:
            continue
        pieces = _pieces(region, [path])
        if bridge is not None and min(_tallest_stroke(piece) for piece in pieces) < BRIDGE_PART * height:
            continue  # a slanted 1 cut across: its two ends, or an end and a dot, read as two 1s
        if _tall_enough(pieces, height):
            paths.append(path)
            halves.extend(pieces)
    if not paths:
        return []
    confidence = np.asarray(judge([region, *halves]), dtype=np.float64)
    both = np.minimum(confidence[1::2], confidence[2::2])
    best = int(np.argmax(both))
    if both[best] >= SPLIT_CONFIDENCE and confidence[0] < MIN_TOP_OUTPUT:
        return halves[2 * best : 2 * best + 2]
    return []


def find_digits(ink: np.ndarray, judge: Judge | None = None) -> list[Digit]:
    """The digits in an ink map (float, ink > 0), left to right; [] if there is no ink.

    ``judge`` (the network's confidence in ink crops, see number.confidence_judge) lets touching
    digits with no thin column between them be split (step 5); without it only steps 1-4 and 6 run."""
    from scipy import ndimage  # lazily, as in preprocess

    mask = ink > 0
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    mass = np.asarray(ndimage.sum_labels(ink, labels, np.arange(1, n + 1)), dtype=np.float64)
    kept = np.concatenate(([False], mass >= SPECK_SHARE * mass.max()))
    ink = np.where(kept[labels], ink, np.float32(0))
    mask = ink > 0
    height = _height(mask)
    groups = _column_groups(mask.any(axis=0), max(2, round(MIN_GAP * height)))

    # fragments: joined to the nearer full-height neighbour if close enough, else dropped
    tall = [_height(mask[:, a:b]) for a, b in groups]
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
        top, bottom = _rows(mask[:, a:b])
        region = ink[top:bottom, a:b]
        # a lone group (an image of one digit, or of one touching pair) is cut as before this rule
        # came: straight, at the ink profile's minima (a single digit keeps its reading)
        bend, even = (0, 0) if len(full) == 1 else (_bend(bottom - top), EVEN_CUTS)
        pieces = _split_touching(region, bottom - top, typical_width, bend)
        if pieces and judge is not None and len(full) == 1:  # the network may veto the cut (step 4b)
            confidence = np.asarray(judge([region, *pieces]), dtype=np.float64)
            if confidence[0] >= LONE_KEEP and confidence[0] >= confidence[1:].min():
                pieces = []
        if judge is not None and not pieces and _too_wide(b - a, bottom - top, typical_width):
            pieces = _split_by_judge(region, bottom - top, judge, bend, even)  # too wide, but no thin column
        elif judge is not None and not pieces and len(full) > 1 and b - a >= NARROW_PAIR * (bottom - top):
            pen = stroke_width(region)  # not too wide: two digits only if they touch at a thin bridge (step 7)
            pieces = _split_by_judge(region, bottom - top, judge, bend, even, BRIDGE_PENS * pen) if pen > 0 else []
        for piece in pieces or [region]:
            rows, cols = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
            if rows.size == 0:
                continue
            own = np.zeros_like(ink)
            own[top:bottom, a:b] = piece
            digits.append(Digit((top + int(rows[0]), top + int(rows[-1]) + 1, a + int(cols[0]), a + int(cols[-1]) + 1), own))
    return digits
