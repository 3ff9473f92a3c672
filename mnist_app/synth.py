"""Synthetic photos of real handwritten digits, for the photo and numbers suites.

Real users photograph digits written with fine pens on squared paper, with grain, JPEG, uneven
light, the sheet's edge and the table in the frame (the kinds of failure listed in the team's
failure notes). None of that can be collected here, but each kind can be *made* from real
handwriting: a digit from digits-dev or MNIST test is reduced to its pen path (its skeleton) and
redrawn with the pen, paper, light and camera of a condition. Everything is driven by one
``np.random.Generator``, so a seed gives the same images on every machine.

Used by scripts/photo_suite.py, scripts/numbers_suite.py and the tests; never by predict.
SciPy (ndimage) is used freely here: this is measurement code, not the predict start-up path.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_app.preprocess import neighbours, skeleton

# --------------------------------------------------------------------------------- the digits


@dataclass(frozen=True)
class SourceDigit:
    """One real digit as an ink map (float32, ink 1, background 0, cropped to the ink)."""

    ink: np.ndarray
    label: int
    origin: str  # "digits-dev:<file>" or "mnist-test:<index>"


def _crop(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def digits_dev(directory: str | Path, n: int, rng: np.random.Generator) -> list[SourceDigit]:
    """``n`` digits of a digits-dev style folder (manifest.csv), chosen by ``rng``, as ink maps.

    The ink is found with the product's own greyscale and ink steps (these images are clean
    drawings and scans, which it reads at 95%+)."""
    from mnist_app.preprocess import ink_map, open_image, to_grey

    directory = Path(directory)
    with (directory / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    picked = rng.permutation(len(rows))[:n]  # a smaller n is a prefix: same digits
    out = []
    for i in sorted(picked.tolist()):
        row = rows[i]
        grey, full = to_grey(open_image(directory / row["file"]))
        out.append(SourceDigit(_crop(ink_map(grey, full)), int(row["label"]), f"digits-dev:{row['file']}"))
    return out


def mnist_test(mirror: str | Path, n: int, rng: np.random.Generator) -> list[SourceDigit]:
    """``n`` MNIST test digits (from the t10k .gz files in ``mirror``), chosen by ``rng``."""
    from mnist_app.data import load_pair

    mirror = Path(mirror)
    images, labels = load_pair(mirror / "t10k-images-idx3-ubyte.gz", mirror / "t10k-labels-idx1-ubyte.gz")
    picked = rng.permutation(len(labels))[:n]
    return [
        SourceDigit(_crop(images[i].reshape(28, 28).astype(np.float32)), int(labels[i]), f"mnist-test:{i}")
        for i in sorted(picked.tolist())
    ]


# ------------------------------------------------------------------------------- the pen path


# A thick pen fills a small loop (an 8's lower loop, a small 9): its ink there is a blob far deeper
# than the strokes, whose skeleton is a line -- the 8 redrawn as a "Y". Ink deeper than LOOP_DEPTH x
# the strokes' median half-width is taken out, so the skeleton goes round it as the pen did.
LOOP_DEPTH = 2.2
# Zhang-Suen's ends stop short of where the pen's path ended (by up to the stroke's half-width:
# a 7's crossbar, a 3's hook, a 1's flag come out short). Each end is carried on, in the direction
# of its last pixels, while the ink there is at least END_DEPTH x as deep as at the end (0.5 and
# 1.0 keep the shape less well: docs/numbers.md).
END_DEPTH = 0.75


def _depth(mask: np.ndarray) -> np.ndarray:
    """Each ink pixel's distance to the nearest paper (the stroke's half-width on its spine)."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


_STEPS = ((-1, 0), (0, -1), (0, 1), (1, 0), (-1, -1), (-1, 1), (1, -1), (1, 1))  # 4-neighbours first


def _ends(path: np.ndarray) -> list[list[tuple[int, int]]]:
    """The path's end branches: from each end pixel (one neighbour) along the path, up to the
    pixel before a junction (3+ separate runs of neighbours) or the other end."""
    n = neighbours(path)
    count = sum(x.astype(np.uint8) for x in n)
    seq = n + [n[0]]
    runs = sum((~seq[k] & seq[k + 1]).astype(np.uint8) for k in range(8))
    junction = path & (runs >= 3)
    h, w = path.shape
    out = []
    for y, x in zip(*np.nonzero(path & (count == 1))):
        branch = [(int(y), int(x))]
        seen = set(branch)
        while True:
            cy, cx = branch[-1]
            nxt = [(cy + dy, cx + dx) for dy, dx in _STEPS
                   if 0 <= cy + dy < h and 0 <= cx + dx < w and path[cy + dy, cx + dx] and (cy + dy, cx + dx) not in seen]
            if not nxt or any(junction[q] for q in nxt):
                break
            branch.append(nxt[0])
            seen.add(nxt[0])
        out.append(branch)
    return out


def _carry_ends_on(path: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Each end of ``path`` carried on in its direction while the ink is deep enough (END_DEPTH)."""
    out = path.copy()
    h, w = path.shape
    for branch in _ends(path):
        if len(branch) < 3:
            continue
        (ey, ex), r = branch[0], float(depth[branch[0]])
        by, bx = branch[min(len(branch) - 1, max(2, round(r)))]  # about a half-width back
        dy, dx = ey - by, ex - bx
        norm = float(np.hypot(dy, dx))
        if norm == 0:
            continue
        t = 0.5
        while True:
            y, x = round(ey + dy / norm * t), round(ex + dx / norm * t)
            if not (0 <= y < h and 0 <= x < w) or depth[y, x] < max(1.0, END_DEPTH * r):
                break
            out[y, x] = True
            t += 0.5
    return out


def _ink_at(digit: SourceDigit, height: int) -> np.ndarray:
    """The digit's ink (bool array) enlarged to ``height`` px tall, aspect ratio kept."""
    h, w = digit.ink.shape
    scale = height / h
    size = (max(1, round(w * scale)), max(1, height))
    big = np.asarray(Image.fromarray(digit.ink.astype(np.float32), "F").resize(size, Image.Resampling.BICUBIC))
    return big > 0.45


def pen_path(digit: SourceDigit, height: int) -> np.ndarray:
    """The digit's pen path drawn at ``height`` px tall (bool array, aspect ratio kept): the
    skeleton of its ink, round the loops a thick pen filled (LOOP_DEPTH) and out to the strokes'
    ends (END_DEPTH)."""
    mask = _ink_at(digit, height)
    depth = _depth(mask)
    path = skeleton(mask)
    if path.any():
        filled = depth > LOOP_DEPTH * float(np.median(depth[path]))
        if filled.any():
            mask &= ~filled
            depth = _depth(mask)
            path = skeleton(mask)
    return _carry_ends_on(path, depth)


def draw_with_pen(path: np.ndarray, width: float, pad: int = 0) -> np.ndarray:
    """Ink coverage in [0, 1] of a round pen ``width`` px wide moved along ``path`` (antialiased)."""
    from scipy import ndimage

    p = np.pad(path, pad + int(width) + 2)
    distance = ndimage.distance_transform_edt(~p)
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------- the scenes


def _paste(canvas: np.ndarray, ink: np.ndarray, top: int, left: int) -> None:
    """Blend ink coverage onto a coverage canvas (max: strokes overlap, they do not add)."""
    h, w = ink.shape
    region = canvas[top : top + h, left : left + w]
    np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)


def _grid(shape: tuple[int, int], rng: np.random.Generator, *, squared: bool, width: float | None = None) -> np.ndarray:
    """Printed paper lines (coverage): a 4-7 mm grid or 7-9 mm ruling, thin and light (1-2.2 px
    unless ``width`` says)."""
    h, w = shape
    pitch = rng.uniform(0.07, 0.11) * min(h, w) if squared else rng.uniform(0.12, 0.16) * min(h, w)
    width = rng.uniform(1.0, 2.2) if width is None else width
    angle = np.deg2rad(rng.uniform(-2.5, 2.5))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros(shape, np.float32)
    directions = [(np.cos(angle), np.sin(angle))] + ([(-np.sin(angle), np.cos(angle))] if squared else [])
    for dy, dx in directions:
        t = (yy * dy + xx * dx + rng.uniform(0, pitch)) % pitch
        distance = np.minimum(t, pitch - t)
        out = np.maximum(out, np.clip(width / 2 + 0.5 - distance, 0, 1))
    return out


def _light(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth light field (multiplier <= 1): brighter at a random point, dimmer away from it."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(-0.3, 1.3) * h, rng.uniform(-0.3, 1.3) * w
    d = np.hypot(yy - cy, xx - cx) / np.hypot(h, w)
    return (1.0 - strength * np.clip(d / d.max(), 0, 1) ** 1.3).astype(np.float32)


@dataclass(frozen=True)
class Condition:
    name: str
    description: str


CONDITIONS = (
    Condition("clean", "pen path redrawn with an MNIST-like pen (width 1/8 of the height), black on white PNG"),
    Condition("fine_pen", "300-600 px photo, fine pen 1-2 px wide, JPEG 90"),
    Condition("marker", "thick marker, width 1/4-1/3 of the height"),
    Condition("grain", "grey paper, sensor noise sigma 0-20 of 255 (uniform), JPEG 85"),
    Condition("jpeg", "JPEG quality 60-95 on light grey paper"),
    Condition("uneven_light", "paper lit 35-65% brighter on one side than the other"),
    Condition("squared_paper", "4-7 mm grid printed in light blue/grey, slightly rotated"),
    Condition("ruled_paper", "ruled lines 7-9 mm apart"),
    Condition("sheet_edge", "the sheet's edge and a dark table on one or two sides of the frame"),
    Condition("table_margin", "paper covers 55-75% of the frame, a textured table around it"),
    Condition("faint_pencil", "grey pencil, 15-30% darker than the paper, grainy stroke"),
    Condition("tiny_grey", "a 28x28 or 190 px crop of grey paper, low contrast, the paper's dark edge in the border"),
    # the kinds measured on real users' photos that the conditions above miss (failure notes)
    Condition("fine_pen_big", "1000-2600 px photo of a fine pen 1-3 px wide that skips (broken, dotted stroke)"),
    Condition("small_in_corner", "much empty paper: the digit 10-20% of the frame's height, off-centre, dust specks"),
    Condition("stray_line", "a crease or a ruler's line across the frame beside the digit"),
    Condition("tiny_pencil", "a 28x28 crop: faint pencil on grey paper filling the frame, the paper's edge in the border"),
    Condition("fine_grid_big", "fine pen + grain + squared paper, 1200-2600 px photo"),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)


def _photo(lum: np.ndarray, rng: np.random.Generator, *, noise: float, tint: bool) -> Image.Image:
    """Luminance in [0, 1] -> an RGB photo (slightly tinted paper when ``tint``) with sensor noise."""
    rgb = np.repeat(lum[:, :, None], 3, axis=2)
    if tint:
        rgb *= np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.98)], np.float32)
    if noise > 0:
        rgb = rgb + rng.normal(0.0, noise / 255.0, rgb.shape).astype(np.float32)
    return Image.fromarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")


def render(digit: SourceDigit, condition: str, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """One synthetic photo of ``digit`` under ``condition``: ``(image, save options)``."""
    if condition == "tiny_grey":
        return _tiny_grey(digit, rng)
    if condition == "tiny_pencil":
        return _tiny_pencil(digit, rng)
    if condition in ("fine_pen_big", "fine_grid_big"):
        return _fine_pen_big(digit, rng, grid=condition == "fine_grid_big")
    if condition == "small_in_corner":
        return _small_in_corner(digit, rng)
    side = int(rng.integers(300, 601)) if condition == "fine_pen" else int(rng.integers(200, 401))
    height = int(side * rng.uniform(0.45, 0.65))
    path = pen_path(digit, height)
    width = {
        "fine_pen": rng.uniform(1.0, 2.0),
        "marker": height * rng.uniform(0.25, 0.33),
        "faint_pencil": height * rng.uniform(0.04, 0.07),
    }.get(condition, height * rng.uniform(0.09, 0.14))
    ink = draw_with_pen(path, width)
    canvas_h, canvas_w = side, int(side * rng.uniform(0.85, 1.2))
    coverage = np.zeros((canvas_h, canvas_w), np.float32)
    top = max(0, (canvas_h - ink.shape[0]) // 2 + int(rng.integers(-side // 12, side // 12 + 1)))
    left = max(0, (canvas_w - ink.shape[1]) // 2 + int(rng.integers(-side // 12, side // 12 + 1)))
    _paste(coverage, ink, top, left)

    paper, ink_level, noise, save = 0.96, 0.08, 2.0, {"format": "PNG"}
    if condition == "clean":
        paper, ink_level, noise = 1.0, 0.0, 0.0
    elif condition == "fine_pen":
        ink_level, save = rng.uniform(0.05, 0.3), {"format": "JPEG", "quality": 90}
    elif condition == "grain":
        paper, noise, save = rng.uniform(0.6, 0.8), rng.uniform(0, 20), {"format": "JPEG", "quality": 85}
        ink_level = paper * rng.uniform(0.15, 0.35)
    elif condition == "jpeg":
        paper, save = rng.uniform(0.8, 0.95), {"format": "JPEG", "quality": int(rng.integers(60, 96))}
    elif condition == "faint_pencil":
        paper = rng.uniform(0.8, 0.95)
        ink_level = paper * (1 - rng.uniform(0.15, 0.3))
        coverage *= rng.uniform(0.6, 1.0, coverage.shape).astype(np.float32)  # graphite is grainy
        noise, save = 3.0, {"format": "JPEG", "quality": 88}
    lum = paper - (paper - ink_level) * coverage
    if condition in ("squared_paper", "ruled_paper"):
        lines = _grid(lum.shape, rng, squared=condition == "squared_paper") * rng.uniform(0.15, 0.35)
        lum = np.minimum(lum, paper * (1 - lines))
    if condition == "uneven_light":
        lum *= _light(lum.shape, rng, rng.uniform(0.35, 0.65))
    if condition in ("sheet_edge", "table_margin"):
        lum = _on_table(lum, rng, margin=condition == "table_margin")
    if condition == "stray_line":
        lum = _stray_line(lum, coverage, paper, rng)
    if condition not in ("clean", "grain"):
        lum *= _light(lum.shape, rng, 0.08)  # no real photo is perfectly evenly lit
    image = _photo(lum, rng, noise=noise, tint=condition not in ("clean", "tiny_grey"))
    return image, save


def _on_table(lum: np.ndarray, rng: np.random.Generator, *, margin: bool) -> np.ndarray:
    """Put the paper on a darker, textured table: one or two edges (or a whole margin) show."""
    h, w = lum.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    table = rng.uniform(0.15, 0.45) + 0.06 * np.sin(xx / rng.uniform(3, 9) + rng.uniform(0, 6))
    table = table + rng.normal(0, 0.03, (h, w))
    if margin:  # a tilted paper rectangle covering 55-75% of each side, digit on it
        scale = 1.0 / rng.uniform(0.55, 0.75)
        big_h, big_w = int(h * scale), int(w * scale)
        bg = np.full((big_h, big_w), float(np.median(lum)), np.float32)
        oy = (big_h - h) // 2 + int(rng.integers(-(big_h - h) // 3, (big_h - h) // 3 + 1))
        ox = (big_w - w) // 2 + int(rng.integers(-(big_w - w) // 3, (big_w - w) // 3 + 1))
        bg[oy : oy + h, ox : ox + w] = lum
        table_big = rng.uniform(0.15, 0.45) + rng.normal(0, 0.03, (big_h, big_w))
        angle = rng.uniform(-6, 6)
        sheet = np.zeros((big_h, big_w), np.float32)
        sheet[oy : oy + h, ox : ox + w] = 1.0
        paper = np.asarray(Image.fromarray(sheet, "F").rotate(angle, Image.Resampling.BILINEAR, expand=False))
        scene = np.asarray(Image.fromarray(bg, "F").rotate(angle, Image.Resampling.BILINEAR, expand=False))
        out = scene * paper + table_big * (1 - paper)
        shadow = rng.uniform(0.0, 0.25)
        out = out * (1 - shadow * np.linspace(0, 1, big_w)[None, :] ** 2)  # a soft shadow across
        return np.clip(out, 0, 1).astype(np.float32)
    out = lum.copy()
    sides = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
    for side in sides.tolist():
        depth = rng.uniform(0.06, 0.16)
        slope = rng.uniform(-0.08, 0.08)
        if side == 0:
            outside = yy < (depth + slope * (xx / w - 0.5)) * h
        elif side == 1:
            outside = yy > (1 - depth + slope * (xx / w - 0.5)) * h
        elif side == 2:
            outside = xx < (depth + slope * (yy / h - 0.5)) * w
        else:
            outside = xx > (1 - depth + slope * (yy / h - 0.5)) * w
        out = np.where(outside, table, out)
    return np.clip(out, 0, 1).astype(np.float32)


def _tiny_grey(digit: SourceDigit, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A small low-contrast crop: grey paper, pencil-grey ink, the paper's dark edge in the border."""
    side = 28 if rng.random() < 0.5 else 190
    height = int(side * rng.uniform(0.6, 0.75))
    # draw big, then reduce: a photo of a pencil digit, not a pixel-art one
    big = 8 if side == 28 else 2
    path = pen_path(digit, height * big)
    ink = draw_with_pen(path, height * big * rng.uniform(0.08, 0.12))
    canvas = np.zeros((side * big, side * big), np.float32)
    top = max(0, (canvas.shape[0] - ink.shape[0]) // 2 + int(rng.integers(-2, 3)) * big)
    left = max(0, (canvas.shape[1] - ink.shape[1]) // 2 + int(rng.integers(-2, 3)) * big)
    _paste(canvas, ink, top, left)
    paper = rng.uniform(0.45, 0.7)
    lum = paper * (1 - rng.uniform(0.25, 0.45) * canvas)
    # the sheet's edge: a dark band 1-3 px (at 28 px) along one side
    yy, xx = np.mgrid[0 : side * big, 0 : side * big]
    depth = rng.uniform(0.03, 0.09) * side * big
    which = int(rng.integers(4))
    coord = (yy, side * big - 1 - yy, xx, side * big - 1 - xx)[which]
    lum = np.where(coord < depth, paper * rng.uniform(0.2, 0.5), lum)
    small = np.asarray(Image.fromarray(lum.astype(np.float32), "F").reduce(big))
    image = _photo(small, rng, noise=rng.uniform(1, 4), tint=False).convert("L")
    return image, ({"format": "PNG"} if side == 28 else {"format": "JPEG", "quality": 85})


def _skips(shape: tuple[int, int], rng: np.random.Generator, cell: float, gap_share: float) -> np.ndarray:
    """A pen that skips: 0 in random blobs about ``cell`` px across covering ``gap_share`` of the
    paper, 1 elsewhere (broken and dotted strokes of a fine pen or a pencil on rough paper)."""
    h, w = shape
    coarse = rng.random((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    field = np.asarray(Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BILINEAR))
    return (field >= np.quantile(field, gap_share)).astype(np.float32)


def _fine_pen_big(digit: SourceDigit, rng: np.random.Generator, *, grid: bool) -> tuple[Image.Image, dict]:
    """A fine pen or pencil photographed at 1000-2600 px: the stroke 1-4% of the digit's height
    (at least 1 px: 1 px or less in the 20-px box), skipping in places, on slightly grey paper,
    the camera's blur; with ``grid``, squared paper (its lines as wide as such a pen) and grain."""
    from scipy import ndimage

    side = int(rng.integers(1200 if grid else 1000, 2601))
    canvas_h, canvas_w = side, int(side * rng.uniform(0.75, 1.33))
    height = int(side * rng.uniform(0.2, 0.5))
    pen = max(1.0, height * rng.uniform(0.01, 0.04))
    # the pen path is found and drawn at <= 400 px (a pen of >= 1 px there), then enlarged
    small = min(height, max(100, int(400 / max(1.0, pen))), 400)
    k = height / small
    ink = draw_with_pen(pen_path(digit, small), max(pen / k, 0.6))
    ink = np.asarray(Image.fromarray(ink, "F").resize((round(ink.shape[1] * k), round(ink.shape[0] * k)),
                                                      Image.Resampling.BILINEAR))
    ink = np.clip(ink, 0, 1) * _skips(ink.shape, rng, cell=max(3.0, pen * rng.uniform(2, 6)), gap_share=rng.uniform(0.05, 0.3))
    coverage = np.zeros((canvas_h, canvas_w), np.float32)
    top = int(rng.integers(side // 20, max(side // 20 + 1, canvas_h - ink.shape[0] - side // 20)))
    left = int(rng.integers(side // 20, max(side // 20 + 1, canvas_w - ink.shape[1] - side // 20)))
    _paste(coverage, ink, top, left)
    paper = rng.uniform(0.75, 0.95)
    ink_level = paper * rng.uniform(0.1, 0.5)
    lum = paper - (paper - ink_level) * coverage
    if grid:
        lines = _grid(lum.shape, rng, squared=True, width=max(1.0, pen * rng.uniform(0.5, 1.2)))
        lum = np.minimum(lum, paper * (1 - lines * rng.uniform(0.15, 0.35)))
    lum *= _light(lum.shape, rng, rng.uniform(0.05, 0.3))
    lum = ndimage.gaussian_filter(lum, rng.uniform(0.4, 1.2))  # the camera's blur
    noise = rng.uniform(6, 15) if grid else rng.uniform(1, 6)
    # greyscale, float32 noise: a colour photo of this size costs 3x (preprocessing takes its grey)
    lum = lum + rng.standard_normal(lum.shape, dtype=np.float32) * np.float32(noise / 255)
    image = Image.fromarray(np.clip(lum * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    return image, {"format": "JPEG", "quality": int(rng.integers(80, 93))}


def _small_in_corner(digit: SourceDigit, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """Much empty paper: a digit 10-20% of the frame's height, anywhere (often near a corner),
    with dust and specks on the paper."""
    side = int(rng.integers(600, 1201))
    canvas_h, canvas_w = side, int(side * rng.uniform(0.75, 1.33))
    height = int(side * rng.uniform(0.1, 0.2))
    ink = draw_with_pen(pen_path(digit, height), height * rng.uniform(0.07, 0.13))
    coverage = np.zeros((canvas_h, canvas_w), np.float32)
    top = int(rng.integers(int(0.03 * canvas_h), canvas_h - ink.shape[0] - int(0.03 * canvas_h)))
    left = int(rng.integers(int(0.03 * canvas_w), canvas_w - ink.shape[1] - int(0.03 * canvas_w)))
    _paste(coverage, ink, top, left)
    for _ in range(int(rng.integers(5, 40))):  # dust: small dark specks anywhere
        cy, cx, r = rng.uniform(0, canvas_h), rng.uniform(0, canvas_w), rng.uniform(0.7, 2.5)
        y0, x0 = max(0, int(cy) - 4), max(0, int(cx) - 4)
        yy, xx = np.ogrid[y0 : int(cy) + 5, x0 : int(cx) + 5]
        speck = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1) * rng.uniform(0.3, 1.0)
        region = coverage[y0 : y0 + speck.shape[0], x0 : x0 + speck.shape[1]]
        np.maximum(region, speck[: region.shape[0], : region.shape[1]].astype(np.float32), out=region)
    paper = rng.uniform(0.75, 0.95)
    lum = paper - (paper - paper * rng.uniform(0.05, 0.35)) * coverage
    lum *= _light(lum.shape, rng, rng.uniform(0.05, 0.4))
    image = _photo(lum, rng, noise=rng.uniform(1, 8), tint=True)
    return image, {"format": "JPEG", "quality": int(rng.integers(75, 93))}


def _stray_line(lum: np.ndarray, coverage: np.ndarray, paper: float, rng: np.random.Generator) -> np.ndarray:
    """A straight line across the whole frame that misses the digit: a crease (a dark line with
    a light one beside it) or a ruler's pencil line, 3-25% of the frame from the digit's box."""
    h, w = lum.shape
    rows = np.flatnonzero(coverage.max(axis=1) > 0.5)
    cols = np.flatnonzero(coverage.max(axis=0) > 0.5)
    y0, y1, x0, x1 = rows[0], rows[-1], cols[0], cols[-1]
    angle = rng.uniform(-25, 25) + (90 if rng.random() < 0.5 else 0)  # mostly along or across
    ny, nx = np.cos(np.deg2rad(angle)), -np.sin(np.deg2rad(angle))  # the line's normal
    corners = np.array([[y0, x0], [y0, x1], [y1, x0], [y1, x1]], np.float32)
    along_normal = corners @ np.array([ny, nx], np.float32)
    gap = rng.uniform(0.03, 0.25) * min(h, w)
    offset = (along_normal.max() + gap) if rng.random() < 0.5 else (along_normal.min() - gap)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = yy * ny + xx * nx - offset
    width = rng.uniform(1.0, 5.0)
    dark = np.clip(width / 2 + 0.5 - np.abs(distance), 0, 1) * rng.uniform(0.25, 0.6)
    out = lum * (1 - dark)
    if rng.random() < 0.5:  # a crease: the fold's other face catches the light
        light = np.clip(width / 2 + 0.5 - np.abs(distance - width - 1), 0, 1) * rng.uniform(0.03, 0.1)
        out = np.minimum(out * (1 + light), 1.0)
    return out.astype(np.float32)


def _tiny_pencil(digit: SourceDigit, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A 28x28 photo crop: faint pencil on grey paper, the digit filling the frame much as an
    MNIST digit does (box 18-22 px), the paper's edge along one side in half of them."""
    big = 8
    side = 28 * big
    height = int(big * rng.uniform(18, 22))
    ink = draw_with_pen(pen_path(digit, height), height * rng.uniform(0.08, 0.13))
    canvas = np.zeros((side, side), np.float32)
    top = max(0, (side - ink.shape[0]) // 2 + int(rng.integers(-1, 2)) * big)
    left = max(0, (side - ink.shape[1]) // 2 + int(rng.integers(-1, 2)) * big)
    _paste(canvas, ink, top, left)
    canvas *= rng.uniform(0.6, 1.0, canvas.shape).astype(np.float32)  # graphite is grainy
    paper = rng.uniform(0.4, 0.8)
    lum = paper * (1 - rng.uniform(0.15, 0.4) * canvas)
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:side, 0:side]
        depth = rng.uniform(0.02, 0.08) * side
        coord = (yy, side - 1 - yy, xx, side - 1 - xx)[int(rng.integers(4))]
        lum = np.where(coord < depth, paper * rng.uniform(0.2, 0.6), lum)
    small = np.asarray(Image.fromarray(lum.astype(np.float32), "F").reduce(big))
    image = _photo(small, rng, noise=rng.uniform(1, 4), tint=False).convert("L")
    return image, ({"format": "PNG"} if rng.random() < 0.5 else {"format": "JPEG", "quality": 90})


def save(image: Image.Image, options: dict, path: Path) -> Path:
    """Write with the condition's format; returns the path with the right suffix."""
    suffix = ".jpg" if options["format"] == "JPEG" else ".png"
    target = path.with_suffix(suffix)
    image.save(target, **options)
    return target


# ------------------------------------------------------------------------------- the photo suite


#: The header of the csv each suite writes into its folder, by which a rerun knows its own.
PHOTO_SUITE_COLUMNS = ["file", "label", "source", "style", "origin"]
NUMBERS_SUITE_COLUMNS = ["file", "number", "kind"]


def _check_own_csv(path: Path, columns: list[str]) -> None:
    """Refuse (OutputError, before anything is written) to replace ``path`` unless an earlier
    suite wrote it (its first line is ``columns``): ``--out my_digits`` replaced the folder's own
    manifest.csv, the labels of the user's digits."""
    from mnist_app.errors import OutputError

    if not path.exists() and not path.is_symlink():
        return
    first = None
    if path.is_file():  # a FIFO is never opened: it would block
        try:
            with path.open(encoding="utf-8") as fh:
                first = fh.readline(4096).rstrip("\r\n")
        except (OSError, UnicodeDecodeError):
            pass
    if first != ",".join(columns):
        raise OutputError(f"{path}: exists and was not written by this suite; refusing to replace it "
                          "(choose another --out)")


def make_photo_suite(
    out: Path,
    sources: list[SourceDigit],
    conditions: tuple[str, ...] = CONDITION_NAMES,
    seed: int = 0,
) -> Path:
    """Render every source digit under every condition into ``out``; write ``out/manifest.csv``.

    The manifest has evaluate.py's columns: ``file,label,source,style`` with ``source`` the
    digit's set (digits-dev / mnist-test) and ``style`` the condition, so
    ``scripts/evaluate.py --images OUT`` reports accuracy per condition as well. Each image has
    its own generator seeded by (seed, digit number, condition number): a smaller suite is a
    subset of a bigger one with the same seed.
    """
    _check_own_csv(out / "manifest.csv", PHOTO_SUITE_COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, digit in enumerate(sources):
        for j, condition in enumerate(CONDITION_NAMES):
            if condition not in conditions:
                continue
            rng = np.random.default_rng([seed, i, j])
            image, options = render(digit, condition, rng)
            target = save(image, options, out / f"{condition}-{i:04d}-{digit.label}")
            rows.append({"file": target.name, "label": digit.label, "source": digit.origin.split(":")[0],
                         "style": condition, "origin": digit.origin})
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=PHOTO_SUITE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return out / "manifest.csv"


# ------------------------------------------------------------------------------ the numbers suite

NUMBER_KINDS = ("separated", "touching", "broken")


def evaluate_photo_suite(network, directory: Path) -> dict:
    """Accuracy per condition and source of a suite folder (manifest.csv as make_photo_suite writes)."""
    from mnist_app.predict import classify_files

    with (directory / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    preds = classify_files(network, [directory / r["file"] for r in rows])
    table: dict[str, dict[str, list[int]]] = {}
    for row, pred in zip(rows, preds):
        right = int(pred.ok and pred.digit == int(row["label"]))
        cell = table.setdefault(row["style"], {}).setdefault(row["source"], [0, 0])
        cell[0] += right
        cell[1] += 1
    report = {}
    for condition, by_source in table.items():
        right = sum(c[0] for c in by_source.values())
        total = sum(c[1] for c in by_source.values())
        report[condition] = {
            "accuracy": right / total,
            "n": total,
            "by_source": {s: {"accuracy": c[0] / c[1], "n": c[1]} for s, c in sorted(by_source.items())},
        }
    return report


def _number_hand(rng: np.random.Generator) -> tuple[float, float]:
    """A number's digit height (px) and pen width (px): one writer, one pen for all its digits."""
    height = rng.uniform(50, 130)
    return height, height * rng.uniform(0.08, 0.13)


def _number_digit(digit: SourceDigit, height: float, pen: float, rng: np.random.Generator) -> np.ndarray:
    """One digit of a number, its own size within 15% of the number's height, redrawn with its pen."""
    return draw_with_pen(pen_path(digit, int(height * rng.uniform(0.85, 1.15))), pen)


def compose_number(digits: list[SourceDigit], kind: str, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A photo of ``digits`` written in a row: varied sizes, gaps and baseline, on paper.

    ``separated``: gaps of 0.12-0.5 x the height between digits; ``touching``: one neighbouring
    pair overlaps by about a pen width (the rest separated); ``broken``: as separated, but one
    digit's stroke is interrupted twice (a pen lifted, a 5's bar left detached)."""
    height, pen = _number_hand(rng)
    inks = [_number_digit(digit, height, pen, rng) for digit in digits]
    if kind == "broken":
        victim = int(rng.integers(len(inks)))
        ink = inks[victim]
        ys, xs = np.nonzero(ink > 0.5)
        for _ in range(2):
            k = int(rng.integers(ys.size))
            yy, xx = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
            ink[np.hypot(yy - ys[k], xx - xs[k]) < pen * rng.uniform(0.7, 1.1)] = 0.0
    # the gaps are between the inks themselves: each digit's inked columns (not its array, whose
    # margin around the strokes depends on how far the pen path reaches)
    inked = [np.flatnonzero(ink.max(axis=0) > 0.5) for ink in inks]
    spans = [(int(c[0]), int(c[-1]) + 1) if c.size else (0, ink.shape[1]) for c, ink in zip(inked, inks)]
    gaps = [height * rng.uniform(0.12, 0.5) for _ in range(len(inks) - 1)]
    if kind == "touching":
        pair = int(rng.integers(len(gaps)))
        gaps[pair] = -pen * rng.uniform(0.3, 1.0)
    margin = int(height * rng.uniform(0.3, 0.8))
    width = margin * 2 + sum(b - a for a, b in spans) + int(sum(gaps)) + 2 * (int(pen) + 2)
    canvas_h = int(max(i.shape[0] for i in inks) + 2 * margin + 0.2 * height)
    coverage = np.zeros((canvas_h, max(width, 8)), np.float32)
    x = float(margin)  # where the next digit's ink begins
    for i, (ink, (a, b)) in enumerate(zip(inks, spans)):
        top = int(margin + rng.uniform(-0.08, 0.08) * height + (max(j.shape[0] for j in inks) - ink.shape[0]) / 2)
        _paste(coverage, ink, max(0, top), max(0, round(x) - a))
        x += b - a + (gaps[i] if i < len(gaps) else 0)
    paper = rng.uniform(0.8, 1.0)
    lum = paper - (paper - rng.uniform(0.0, 0.25)) * coverage
    lum *= _light(lum.shape, rng, rng.uniform(0.0, 0.25))
    image = _photo(lum, rng, noise=rng.uniform(0, 6), tint=True)
    return image, ({"format": "JPEG", "quality": int(rng.integers(75, 96))} if rng.random() < 0.5 else {"format": "PNG"})


def draw_alone(digit: SourceDigit, rng: np.random.Generator) -> Image.Image:
    """One digit drawn as compose_number draws each digit of a number (its height, its pen), alone,
    black on white: what a digit of the numbers suite is before paper, gaps and neighbours."""
    height, pen = _number_hand(rng)
    ink = np.pad(_number_digit(digit, height, pen, rng), 20)
    return Image.fromarray(np.clip((1.0 - ink) * 255 + 0.5, 0, 255).astype(np.uint8), "L")


def ink_difference(digit: SourceDigit, height: int = 100) -> float:
    """How well the pen path keeps the digit's shape, without asking the network: the share of its
    ink that differs when the path is redrawn with a pen as wide as the digit's own strokes
    (pixels of either ink further than max(2 px, 0.3 pen) from the other). 0 is a perfect copy."""
    from scipy import ndimage

    mask = _ink_at(digit, height)
    spine = skeleton(mask)
    if not spine.any():
        return 0.0
    pen = max(1.0, 2.0 * float(np.median(_depth(mask)[spine])) - 1.0)
    margin = int(pen) + 2  # draw_with_pen pads by this
    redrawn = draw_with_pen(pen_path(digit, height), pen)[margin:-margin, margin:-margin] > 0.5
    tolerance = max(2.0, 0.3 * pen)
    missing = mask & (ndimage.distance_transform_edt(~redrawn) > tolerance)
    added = redrawn & (ndimage.distance_transform_edt(~mask) > tolerance)
    return float((missing.sum() + added.sum()) / mask.sum())


def original_inputs(pool: list[SourceDigit], digits_dev: str | Path, mirror: str | Path) -> np.ndarray:
    """The 784 values the network sees for each pool digit's original: the digits-dev file as
    predict prepares it, the MNIST test array as it is."""
    from mnist_app.data import load_images
    from mnist_app.preprocess import prepare

    mnist = None
    out = []
    for digit in pool:
        source, key = digit.origin.split(":", 1)
        if source == "digits-dev":
            out.append(prepare(Path(digits_dev) / key).vector)
        else:
            if mnist is None:
                mnist = load_images(Path(mirror) / "t10k-images-idx3-ubyte.gz")
            out.append(mnist[int(key)])
    return np.stack(out).astype(np.float32)


def evaluate_pool(network, pool: list[SourceDigit], originals: np.ndarray, renders: int = 2, seed: int = 0) -> dict:
    """Each pool digit read alone: as its original image (``originals``, the 784 values of each, as
    predict prepares the digits-dev file or as the MNIST array is), and drawn as the suite draws it
    (``renders`` times, draw_alone), with the pen path's ink_difference. Where the suite's
    per-digit errors come from: the model, or the drawing."""
    from mnist_app.predict import classify_many
    from mnist_app.preprocess import prepare

    labels = np.array([d.label for d in pool])
    sources = np.array([d.origin.split(":")[0] for d in pool])
    right_original = np.array([p.digit for p in classify_many(network, originals)]) == labels
    vectors = [prepare(draw_alone(d, np.random.default_rng([seed, i, r]))).vector
               for i, d in enumerate(pool) for r in range(renders)]
    read = np.array([p.digit for p in classify_many(network, np.stack(vectors))]).reshape(len(pool), renders)
    right_redrawn = read == labels[:, None]
    differences = np.array([ink_difference(d) for d in pool])

    def by_source(right: np.ndarray) -> dict:
        return {"all": float(right.mean()), **{s: float(right[sources == s].mean()) for s in sorted(set(sources))}}

    return {
        "n": len(pool),
        "renders": renders,
        "original": by_source(right_original),
        "redrawn": by_source(right_redrawn),
        "lost_in_redrawing": int((right_original[:, None] & ~right_redrawn).sum()),
        "gained_in_redrawing": int((~right_original[:, None] & right_redrawn).sum()),
        "ink_difference": {"mean": float(differences.mean()), "over_5pct": int((differences > 0.05).sum()),
                           "over_10pct": int((differences > 0.10).sum())},
    }


def make_numbers_suite(out: Path, pool: list[SourceDigit], count: int = 1000, seed: int = 0) -> Path:
    """``count`` numbers of 2-8 digits drawn from ``pool`` (70% separated, 15% touching, 15%
    broken) into ``out``, with ``out/numbers.csv`` (file, number, kind). Image k is made by its own
    generator seeded (seed, k): a smaller suite is the start of a bigger one."""
    _check_own_csv(out / "numbers.csv", NUMBERS_SUITE_COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        length = int(rng.integers(2, 9))
        chosen = [pool[int(i)] for i in rng.integers(len(pool), size=length)]
        kind = NUMBER_KINDS[int(rng.choice(3, p=(0.7, 0.15, 0.15)))]
        image, options = compose_number(chosen, kind, rng)
        number = "".join(str(d.label) for d in chosen)
        target = save(image, options, out / f"number-{k:04d}-{number}")
        rows.append({"file": target.name, "number": number, "kind": kind})
    with (out / "numbers.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=NUMBERS_SUITE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return out / "numbers.csv"


def evaluate_numbers_suite(network, directory: Path) -> dict:
    """Exact-number accuracy of a numbers suite folder (numbers.csv as make_numbers_suite writes)."""
    from mnist_app.predict import classify_files

    with (directory / "numbers.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    started = time.perf_counter()
    preds = classify_files(network, [directory / r["file"] for r in rows])
    ms_per_number = (time.perf_counter() - started) * 1000.0 / max(len(rows), 1)  # open + prepare + read
    by: dict[str, dict[str, list[int]]] = {"kind": {}, "length": {}}
    count_right = digits_right = digits_total = 0
    for row, pred in zip(rows, preds):
        read = (pred.number if pred.number is not None else str(pred.digit)) if pred.ok else ""
        exact = int(read == row["number"])
        counted = int(len(read) == len(row["number"]))
        for key, value in (("kind", row["kind"]), ("length", str(len(row["number"])))):
            cell = by[key].setdefault(value, [0, 0, 0])
            cell[0] += exact
            cell[1] += 1
            cell[2] += counted
        if counted:
            count_right += 1
            digits_right += sum(a == b for a, b in zip(read, row["number"]))
            digits_total += len(read)
    n = len(rows)
    return {
        "n": n,
        "exact": sum(c[0] for c in by["kind"].values()) / n,
        "digit_count_right": count_right / n,
        "digit_accuracy_when_count_right": digits_right / digits_total if digits_total else None,
        "ms_per_number": ms_per_number,
        "by_kind": {k: {"exact": c[0] / c[1], "digit_count_right": c[2] / c[1], "n": c[1]}
                    for k, c in sorted(by["kind"].items())},
        "by_length": {k: {"exact": c[0] / c[1], "digit_count_right": c[2] / c[1], "n": c[1]}
                      for k, c in sorted(by["length"].items())},
    }
