"""Synthetic pen strokes: digits, letters, scribbles and noise drawn as a user would (dark ink on
paper, any size), for training and measuring the not-a-digit check (mnist_app.unsure).

Letters (capitals and lower case) and digits are written in several forms each (LETTER_FORMS,
DIGIT_FORMS: a pointed or flat-topped A, a curly E, a W of two crossed Vs, a crossed 7, a footed
1, ...), each form a skeleton of straight and curved strokes in a unit box (x right, y down).
Every drawing moves the form's corners (proportions), bends the whole glyph smoothly (an elastic
distortion), wobbles each stroke, and picks a pen width, slant, rotation and aspect ratio, so
digits and letters share one varied "handwriting": a check trained on them has to tell shapes
apart, not the way they were drawn. Printed glyphs come from the fonts found on the machine
(DejaVu, Liberation ...). Glyphs are shown as drawings of any size, as old 16x16 scans, or as
28x28 images already in MNIST's format (which preprocessing takes raw). Every image goes through
the real preprocessing before anyone uses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CANVAS = 200  # px: a user's drawing, big enough that preprocessing has to shrink it


def _arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, n: int = 24) -> list[tuple[float, float]]:
    """Points of an ellipse arc; angles in degrees, 0 = right, 90 = down (y grows downwards)."""
    t = np.radians(np.linspace(t0, t1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


Stroke = list[tuple[float, float]]
Form = list[Stroke]  # one way of writing a character: its strokes, each a polyline


def _forms(*forms: Form) -> list[Form]:
    return list(forms)


# Several forms per character, because people write the same letter in different ways (a pointed
# or flat-topped A, a W of two crossed Vs, a curly E); draw_strokes then varies each form's
# proportions, slant, pen and wobble. Capitals in the unit box; lower case with its x-height in
# y 0.45-1, ascenders from 0, descenders to 1.45 (preprocessing scales each glyph to its own box).
LETTER_FORMS: dict[str, list[Form]] = {
    "A": _forms([[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
                [[(0.05, 1), (0.5, 0), (0.95, 1)], [(0.2, 0.68), (0.8, 0.68)]],
                [[(0, 1), (0.35, 0), (0.65, 0), (1, 1)], [(0.2, 0.55), (0.8, 0.55)]],
                [[(0, 1), (0.5, 0), (1, 1)], [(0.05, 0.6), (0.95, 0.55)]],
                [[(0, 1), (0, 0.45)] + _arc(0.5, 0.45, 0.5, 0.45, 180, 360) + [(1, 1)], [(0, 0.55), (1, 0.55)]],
                [[(0, 1), (0.58, -0.05)], [(0.42, -0.05), (1, 1)], [(0.2, 0.6), (0.8, 0.6)]],
                [[(0.1, 1), (0.5, 0), (0.9, 1)], [(-0.1, 0.5), (1.1, 0.5)]],
                [[(0.15, 1), (0.5, 0), (0.85, 1)], [(0.25, 0.75), (0.75, 0.72)]]),
    "B": _forms([[(0, 0), (0, 1)], [(0, 0), (0.6, 0)] + _arc(0.6, 0.25, 0.3, 0.25, -90, 90) + [(0, 0.5)],
                 [(0, 0.5), (0.65, 0.5)] + _arc(0.65, 0.75, 0.3, 0.25, -90, 90) + [(0, 1)]]),
    "C": _forms([_arc(0.5, 0.5, 0.5, 0.5, -45, -315)], [_arc(0.5, 0.5, 0.5, 0.5, -60, -300)],
                [_arc(0.5, 0.5, 0.5, 0.5, -20, -330)],
                [[(1, 0.3)] + _arc(0.6, 0.2, 0.35, 0.2, 20, -180) + _arc(0.55, 0.55, 0.5, 0.45, 180, 60)],
                [[(1, 0.05), (0.3, 0)] + _arc(0.3, 0.5, 0.3, 0.5, -90, -270) + [(1, 0.95)]],
                [_arc(0.6, 0.5, 0.5, 0.5, -70, -290)]),
    "D": _forms([[(0, 0), (0, 1)], [(0, 0), (0.4, 0)] + _arc(0.4, 0.5, 0.6, 0.5, -90, 90) + [(0, 1)]],
                [[(0, 1), (0, 0)] + _arc(0.25, 0.5, 0.75, 0.5, -90, 90) + [(-0.05, 0.95)]],
                [[(0.1, 0), (0.1, 1)], [(-0.05, 0.05)] + _arc(0.3, 0.5, 0.65, 0.45, -90, 95)],
                [[(0.05, -0.05), (0.05, 1.05)], [(0.05, 0.02), (0.45, 0)] + _arc(0.45, 0.5, 0.55, 0.5, -90, 90) + [(0.05, 0.98)]],
                [[(0, 0), (0, 1)], [(0, 0), (0.6, 0.12), (1, 0.5), (0.6, 0.88), (0, 1)]],
                [[(0, 0), (0, 1), (0.5, 1)] + _arc(0.5, 0.5, 0.5, 0.5, 90, -90) + [(0, 0)]]),
    "E": _forms([[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
                [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.45), (0.5, 0.45)]],
                [[(0, 0), (0, 1)], [(0, 0), (0.9, 0)], [(0, 0.5), (0.8, 0.5)], [(0, 1), (0.9, 1)]],
                [_arc(0.55, 0.27, 0.45, 0.27, -30, -270) + _arc(0.55, 0.75, 0.45, 0.25, -90, -330)]),
    "F": _forms([[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
                [[(0, 0), (0, 1)], [(-0.05, 0), (0.9, 0)], [(0, 0.45), (0.6, 0.45)]],
                [[(1, 0), (0.1, 0), (0, 1)], [(-0.1, 0.5), (0.6, 0.5)]]),
    "G": _forms([_arc(0.5, 0.5, 0.5, 0.5, -45, -360) + [(0.55, 0.5)]]),
    "H": _forms([[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
                [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(-0.05, 0.4), (1.05, 0.45)]],
                [[(0.1, 0), (0, 1)], [(0.9, 0), (1, 1)], [(0.05, 0.55), (0.95, 0.5)]]),
    "I": _forms([[(0.5, 0), (0.5, 1)], [(0.2, 0), (0.8, 0)], [(0.2, 1), (0.8, 1)]]),
    "J": _forms([[(0.8, 0), (0.8, 0.7)] + _arc(0.45, 0.7, 0.35, 0.3, 0, 180)],
                [[(0.3, 0), (1, 0)], [(0.7, 0), (0.7, 0.7)] + _arc(0.4, 0.7, 0.3, 0.3, 0, 170)],
                [[(0.9, 0), (0.9, 0.75)] + _arc(0.5, 0.75, 0.4, 0.25, 0, 200)]),
    "K": _forms([[(0, 0), (0, 1)], [(1, 0), (0, 0.55)], [(0.3, 0.4), (1, 1)]],
                [[(0, 0), (0, 1)], [(0.9, 0), (0, 0.5), (1, 1)]],
                [[(0, 0), (0, 1)], [(1, 0), (0.05, 0.5)], [(0.05, 0.5), (1, 1)]]),
    "L": _forms([[(0, 0), (0, 1), (0.8, 1)]], [[(0.1, 0), (0, 1), (1, 1)]], [[(0.2, 0), (0, 1), (0.7, 0.95)]],
                [[(0.3, 0), (0, 1), (1, 1)]], [[(0, 0), (0, 1), (0.9, 0.8)]],
                [[(0, 0), (0, 1)], [(-0.05, 1), (1, 1)]]),
    "M": _forms([[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
                [[(0, 1), (0, 0), (0.5, 1), (1, 0), (1, 1)]],
                [[(0, 1), (0.15, 0), (0.5, 0.7), (0.85, 0), (1, 1)]],
                [[(0, 1), (0.2, 0), (0.5, 0.5), (0.8, 0), (1, 1)]]),
    "N": _forms([[(0, 1), (0, 0), (1, 1), (1, 0)]], [[(0, 1), (0.1, 0), (0.9, 1), (1, 0)]],
                [[(0, 1), (0, 0)], [(0, 0), (1, 1), (1, 0)]]),
    "O": _forms([_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 40)]),
    "P": _forms([[(0, 1), (0, 0), (0.6, 0)] + _arc(0.6, 0.27, 0.35, 0.27, -90, 90) + [(0, 0.55)]],
                [[(0, 1), (0, 0)], [(0, 0), (0.5, 0)] + _arc(0.5, 0.22, 0.4, 0.22, -90, 90) + [(0, 0.45)]],
                [[(0, 1), (0, 0)] + _arc(0.4, 0.3, 0.5, 0.3, -90, 100)]),
    "Q": _forms([_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 40), [(0.6, 0.7), (1, 1.05)]],
                [_arc(0.5, 0.45, 0.5, 0.45, 0, 360, 40), [(0.5, 0.8), (0.7, 1.0), (1, 1.05)]],
                [_arc(0.5, 0.5, 0.45, 0.5, -90, 280, 40), [(0.55, 0.65), (0.9, 1.1)]],
                [_arc(0.5, 0.45, 0.5, 0.45, 0, 360, 40), [(0.3, 0.95), (0.6, 1.05), (1.05, 1.0)]],
                [_arc(0.5, 0.45, 0.5, 0.45, -90, 300, 40) + [(0.5, 0.7), (1.05, 1.05)]],
                [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 40), [(0.45, 0.55), (0.85, 0.95)]]),
    "R": _forms([[(0, 1), (0, 0), (0.6, 0)] + _arc(0.6, 0.27, 0.35, 0.27, -90, 90) + [(0, 0.55)],
                 [(0.35, 0.55), (1, 1)]],
                [[(0, 1), (0, 0)] + _arc(0.4, 0.27, 0.5, 0.27, -90, 90) + [(0, 0.55), (1, 1)]],
                [[(0, 1), (0, 0)], [(0, 0), (0.5, 0)] + _arc(0.5, 0.25, 0.4, 0.25, -90, 90) + [(0.05, 0.5)],
                 [(0.05, 0.5), (0.9, 1)]],
                [[(0, 1), (0, 0)] + _arc(0.4, 0.27, 0.5, 0.27, -90, 90) + [(0, 0.55)],
                 [(0.3, 0.55), (0.6, 0.62), (0.85, 0.8), (1, 1)]],
                [[(0, 1), (0, 0)], [(0.05, 0)] + _arc(0.45, 0.27, 0.45, 0.27, -90, 90) + [(0.3, 0.55), (1, 1)]],
                [[(0, 1), (0, 0)] + _arc(0.35, 0.25, 0.55, 0.25, -90, 90) + [(0, 0.5)], [(0, 0.5), (1, 1)]]),
    "S": _forms([_arc(0.5, 0.25, 0.45, 0.25, -30, -270) + _arc(0.5, 0.75, 0.45, 0.25, -90, 150)]),
    "T": _forms([[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]], [[(0, 0.05), (1, 0)], [(0.45, 0), (0.55, 1)]],
                [[(0.1, 0), (0.9, 0)], [(0.5, 0), (0.5, 1)]]),
    "U": _forms([[(0, 0), (0, 0.6)] + _arc(0.5, 0.6, 0.5, 0.4, 180, 0) + [(1, 0)]],
                [[(0, 0), (0, 0.6)] + _arc(0.5, 0.6, 0.5, 0.4, 180, 0) + [(1, 0), (1, 1.05)]],
                [[(0, 0)] + _arc(0.5, 0.45, 0.5, 0.55, 180, 0) + [(1, 0)]]),
    "V": _forms([[(0, 0), (0.5, 1), (1, 0)]], [[(0, 0), (0.4, 1), (1, 0)]],
                [[(0, 0), (0.4, 0.85)] + _arc(0.5, 0.85, 0.1, 0.15, 180, 0) + [(1, 0)]]),
    "W": _forms([[(0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1, 0)]],
                [[(0, 0), (0.25, 1), (0.5, 0), (0.75, 1), (1, 0)]],
                [[(0, 0), (0.3, 1), (0.55, 0)], [(0.45, 0), (0.7, 1), (1, 0)]],
                [[(0, 0), (0.1, 0.7)] + _arc(0.3, 0.7, 0.2, 0.3, 180, 0) + _arc(0.7, 0.7, 0.2, 0.3, 180, 0) + [(1, 0)]],
                [[(0, 0), (0.25, 1)], [(0.25, 1), (0.5, 0.2)], [(0.5, 0.2), (0.75, 1)], [(0.75, 1), (1, 0)]],
                [[(0, 0), (0.15, 1), (0.5, 0.1), (0.85, 1), (1, 0)]],
                [[(0, 0), (0.2, 1), (0.5, 0.5), (0.8, 1), (1, 0)]]),
    "X": _forms([[(0, 0), (1, 1)], [(1, 0), (0, 1)]], [[(0.1, 0), (0.9, 1)], [(1, 0.05), (0, 0.9)]],
                [[(0, 0), (0.5, 0.4), (1, 1)], [(1, 0), (0.5, 0.6), (0, 1)]],
                [[(0.2, 0), (1, 1)], [(0.8, 0), (0, 1)]], [[(0, 0), (0.8, 1)], [(1, 0), (0.2, 1)]],
                [_arc(-0.1, 0.5, 0.6, 0.6, -56, 56), _arc(1.1, 0.5, 0.6, 0.6, 124, 236)],
                [[(0, 0), (1, 1)], [(0.75, 0.1), (0.2, 0.9)]]),
    "Y": _forms([[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
                [[(0, 0), (0.55, 0.5)], [(1, 0), (0.3, 1)]],
                [[(0, 0), (0.5, 0.45), (1, 0)], [(0.5, 0.45), (0.45, 1)]]),
    "Z": _forms([[(0, 0), (1, 0), (0, 1), (1, 1)]]),
    # lower case (the ones that are only small capitals -- c, v, w, x -- come with the capitals)
    "a": _forms([_arc(0.45, 0.72, 0.4, 0.28, -20, 340), [(0.85, 0.45), (0.85, 1)]]),
    "b": _forms([[(0.1, 0), (0.1, 1)], _arc(0.5, 0.72, 0.4, 0.28, 180, 540)]),
    "d": _forms([_arc(0.45, 0.72, 0.4, 0.28, 0, 360), [(0.85, 0), (0.85, 1)]],
                [_arc(0.45, 0.72, 0.4, 0.28, -20, 340), [(0.85, 0), (0.85, 0.95), (0.95, 1)]]),
    "e": _forms([[(0.1, 0.72), (0.9, 0.72)] + _arc(0.5, 0.72, 0.4, 0.28, 0, -310)],
                [[(0.15, 0.75), (0.75, 0.6)] + _arc(0.5, 0.7, 0.35, 0.3, -60, -320)]),
    "f": _forms([_arc(0.65, 0.15, 0.25, 0.15, -10, -180) + [(0.4, 1.0)], [(0.1, 0.45), (0.75, 0.45)]],
                [_arc(0.7, 0.15, 0.3, 0.15, -10, -180) + [(0.4, 1.45)], [(0.1, 0.45), (0.75, 0.45)]]),
    "g": _forms([_arc(0.45, 0.7, 0.38, 0.25, 0, 360), [(0.83, 0.45), (0.83, 1.3)] + _arc(0.5, 1.3, 0.33, 0.15, 0, 170)]),
    "h": _forms([[(0.1, 0), (0.1, 1)], [(0.1, 0.65)] + _arc(0.45, 0.65, 0.35, 0.2, 180, 360) + [(0.8, 1)]],
                [[(0.1, 0), (0.1, 1)] + _arc(0.45, 0.65, 0.35, 0.2, 180, 360) + [(0.8, 1), (0.95, 0.95)]]),
    "i": _forms([[(0.5, 0.45), (0.5, 1)], [(0.5, 0.2), (0.52, 0.22)]]),
    "j": _forms([[(0.6, 0.45), (0.6, 1.3)] + _arc(0.35, 1.3, 0.25, 0.15, 0, 170), [(0.6, 0.2), (0.62, 0.22)]]),
    "k": _forms([[(0.1, 0), (0.1, 1)], [(0.8, 0.45), (0.1, 0.75), (0.85, 1)]]),
    "l": _forms([[(0.5, 0), (0.5, 1)]]),
    "m": _forms([[(0, 1), (0, 0.45)] + _arc(0.25, 0.6, 0.25, 0.15, 180, 360) + [(0.5, 1)],
                 [(0.5, 0.6)] + _arc(0.75, 0.6, 0.25, 0.15, 180, 360) + [(1, 1)]],
                [[(0, 1), (0, 0.45), (0, 0.6)] + _arc(0.25, 0.6, 0.25, 0.15, 180, 360) + [(0.5, 1), (0.5, 0.6)]
                 + _arc(0.75, 0.6, 0.25, 0.15, 180, 360) + [(1, 1)]]),
    "n": _forms([[(0.1, 0.45), (0.1, 1)], [(0.1, 0.65)] + _arc(0.5, 0.65, 0.4, 0.2, 180, 360) + [(0.9, 1)]],
                [[(0.1, 0.45), (0.1, 1), (0.1, 0.65)] + _arc(0.5, 0.65, 0.4, 0.2, 180, 360) + [(0.9, 1)]]),
    "o": _forms([_arc(0.5, 0.72, 0.4, 0.28, 0, 360, 40)]),
    "p": _forms([[(0.1, 0.45), (0.1, 1.45)], _arc(0.5, 0.7, 0.4, 0.25, 180, 540)]),
    "q": _forms([_arc(0.45, 0.7, 0.38, 0.25, 0, 360), [(0.83, 0.45), (0.83, 1.45)]]),
    "r": _forms([[(0.2, 0.45), (0.2, 1)], [(0.2, 0.7)] + _arc(0.55, 0.65, 0.35, 0.18, 180, 300)]),
    "s": _forms([_arc(0.5, 0.6, 0.35, 0.15, -30, -270) + _arc(0.5, 0.87, 0.35, 0.13, -90, 150)]),
    "t": _forms([[(0.4, 0.05), (0.4, 0.85)] + _arc(0.6, 0.85, 0.2, 0.15, 180, 90), [(0.1, 0.4), (0.8, 0.4)]],
                [[(0.45, 0), (0.45, 1)], [(0.1, 0.35), (0.85, 0.35)]]),
    "u": _forms([[(0.1, 0.45), (0.1, 0.8)] + _arc(0.45, 0.8, 0.35, 0.2, 180, 0), [(0.8, 0.45), (0.8, 1), (0.9, 1)]]),
    "y": _forms([[(0, 0.45), (0.5, 1)], [(1, 0.45), (0.3, 1.45)]]),  # (not the u-with-a-tail y: an open 4)
    "z": _forms([[(0, 0.45), (1, 0.45), (0, 1), (1, 1)]]),
}
DIGIT_FORMS: dict[str, list[Form]] = {
    "0": _forms([_arc(0.5, 0.5, 0.45, 0.5, -90, 275, 40)], [_arc(0.5, 0.5, 0.35, 0.5, -100, 290, 40)],
                [_arc(0.5, 0.5, 0.45, 0.5, -80, 250, 40)]),
    "1": _forms([[(0.5, 0), (0.5, 1)]], [[(0.2, 0.25), (0.55, 0), (0.55, 1)]],
                [[(0.2, 0.3), (0.55, 0), (0.55, 1)], [(0.25, 1), (0.85, 1)]]),
    "2": _forms([_arc(0.5, 0.3, 0.4, 0.3, 180, 390) + [(0.0, 1), (1, 1)]],
                [_arc(0.5, 0.3, 0.45, 0.3, 190, 400) + [(0.05, 0.95)] + _arc(0.2, 0.9, 0.12, 0.1, 0, -300) + [(1, 1)]]),
    "3": _forms([_arc(0.5, 0.25, 0.4, 0.25, 200, 450) + _arc(0.5, 0.75, 0.45, 0.25, 270, 520)],
                [[(0.05, 0), (0.9, 0), (0.4, 0.45)] + _arc(0.5, 0.72, 0.42, 0.28, -90, 150)]),
    "4": _forms([[(0.15, 0), (0, 0.6), (1, 0.6)], [(0.7, 0.2), (0.7, 1)]],
                [[(0.65, 0), (0, 0.65), (1, 0.65)], [(0.65, 0), (0.65, 1)]],
                [[(0.2, 0), (0.05, 0.55), (0.95, 0.55)], [(0.75, 0), (0.7, 1)]]),
    "5": _forms([[(0.9, 0), (0.2, 0), (0.15, 0.45)] + _arc(0.5, 0.7, 0.42, 0.3, -130, 150)],
                [[(0.2, 0), (0.15, 0.45)] + _arc(0.5, 0.7, 0.42, 0.3, -130, 150), [(0.2, 0), (0.95, 0.02)]]),
    "6": _forms([[(0.8, 0), (0.4, 0.2)] + _arc(0.5, 0.72, 0.4, 0.28, 210, 570)],
                [[(0.7, 0), (0.15, 0.7)] + _arc(0.5, 0.72, 0.37, 0.28, 180, 540)]),
    "7": _forms([[(0, 0), (1, 0), (0.4, 1)]], [[(0, 0), (1, 0), (0.4, 1)], [(0.35, 0.5), (0.95, 0.5)]],
                [[(0, 0.1), (0.05, 0), (1, 0), (0.55, 0.5), (0.45, 1)]]),
    "8": _forms([_arc(0.5, 0.25, 0.35, 0.25, 90, 450), _arc(0.5, 0.75, 0.45, 0.25, -90, 270)],
                [_arc(0.5, 0.25, 0.35, 0.25, 30, -270) + _arc(0.5, 0.75, 0.42, 0.25, -90, 250)]),
    "9": _forms([_arc(0.5, 0.3, 0.4, 0.3, 0, 360), [(0.9, 0.3), (0.85, 1)]],
                [_arc(0.5, 0.3, 0.4, 0.3, 0, 360), [(0.9, 0.3), (0.8, 0.8), (0.5, 1)]]),
}
# Characters a person could fairly read as a digit (B~8, G~6, I~1, O~0, S~5, Z~2; lower case
# a~9, b~6, g/q~9, l/i~1, o~0, s~5, z~2, j~1): a recogniser may answer these, so they are
# neither trained on as "not a digit" nor counted as misses.
DIGIT_LIKE = frozenset("BGIOSZabgqlioszj")
LOWER = "abcdefghijklmnopqrstuvwxyz"


def _densify(stroke: list[tuple[float, float]]) -> np.ndarray:
    """Straight segments get intermediate points, so the wobble bends them like a hand would."""
    pts = np.asarray(stroke, dtype=float)
    if len(pts) >= 8:
        return pts
    parts = [a + (b - a) * t for a, b in zip(pts[:-1], pts[1:]) for t in np.linspace(0, 1, 6)[:-1]]
    return np.vstack(parts + [pts[-1]])


def _wobble(pts: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random offset along the stroke (low frequency) plus a little tremor."""
    n = len(pts)
    k = max(2, n // 8)
    knots = rng.normal(0, amount, (k, 2))
    t = np.linspace(0, k - 1, n)
    offset = np.stack([np.interp(t, np.arange(k), knots[:, j]) for j in range(2)], axis=1)
    return pts + offset + rng.normal(0, amount * 0.2, pts.shape)


def _warp(pts: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random deformation of the whole glyph (the same for all its strokes): a bowl drawn
    bigger, a bar higher, one side narrower -- the proportions a hand does not keep. Two low
    sinusoids per axis, an elastic distortion in the sense of Simard et al. (2003)."""
    out = pts.copy()
    for axis in range(2):
        for _ in range(2):
            fx, fy = rng.uniform(0.5, 1.5, 2) * np.pi
            phase = rng.uniform(0, 2 * np.pi)
            out[:, axis] += amount * rng.uniform(-1, 1) * np.sin(fx * pts[:, 0] + fy * pts[:, 1] + phase)
    return out


def draw_strokes(form, rng: np.random.Generator, size: int = CANVAS) -> Image.Image:
    """One hand-drawn glyph from its strokes (one form of a character): dark ink on light
    paper, greyscale ("L"). Each drawing moves the strokes' corners a little (proportions), bends
    the glyph as a whole (_warp) and each stroke along its length (_wobble), shifts each stroke a
    little (strokes that do not quite meet, or overshoot), then slants, turns and inks it."""
    h = rng.uniform(0.5, 0.8) * size
    w = h * rng.uniform(0.45, 1.0)
    angle = np.radians(rng.uniform(-15, 15))
    slant = rng.uniform(-0.3, 0.3)
    width = max(1, int(h * rng.lognormal(np.log(0.065), 0.45)))  # 3-13% of the height, as pens go
    paper, ink = int(rng.uniform(190, 255)), int(rng.uniform(0, 100))
    jitter, bend = rng.uniform(0, 0.06), rng.uniform(0, 0.08)
    warp_seed = int(rng.integers(1 << 31))
    image = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    for stroke in form:
        corners = np.asarray(stroke, dtype=float)
        if len(corners) < 8:  # polyline corners; arcs keep their shape and move as a whole
            corners = corners + rng.normal(0, jitter, corners.shape)
        pts = _densify(corners) + rng.normal(0, jitter * 0.4, 2)
        pts = _warp(pts, np.random.default_rng(warp_seed), bend)  # same warp for every stroke
        pts = _wobble(pts, rng, rng.uniform(0.01, 0.05))
        x = (pts[:, 0] - 0.5) * w + slant * (pts[:, 1] - 0.5) * h
        y = (pts[:, 1] - 0.5) * h
        xs = size / 2 + x * np.cos(angle) - y * np.sin(angle)
        ys = size / 2 + x * np.sin(angle) + y * np.cos(angle)
        draw.line(list(zip(xs, ys)), fill=ink, width=width, joint="curve")
        r = width / 2
        for px, py in ((xs[0], ys[0]), (xs[-1], ys[-1])):  # round pen ends
            draw.ellipse((px - r, py - r, px + r, py + r), fill=ink)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return image


def draw_char(char: str, rng: np.random.Generator, size: int = CANVAS) -> Image.Image:
    """A character (LETTER_FORMS or DIGIT_FORMS) hand-drawn in one of its forms, chosen at random."""
    forms = LETTER_FORMS.get(char) or DIGIT_FORMS[char]
    return draw_strokes(forms[rng.integers(len(forms))], rng, size)


def font_files() -> list[str]:
    """TrueType fonts on this machine (Debian: DejaVu, Liberation); may be empty."""
    roots = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"]
    found = {str(f) for root in roots if root.is_dir() for f in root.rglob("*.ttf")}
    return sorted(f for f in found if "Math" not in f)


def font_glyph(char: str, font: str, rng: np.random.Generator, size: int = CANVAS) -> Image.Image:
    """A printed character, slightly rotated, black on white."""
    image = Image.new("L", (size, size), 255)
    face = ImageFont.truetype(font, int(rng.uniform(0.45, 0.7) * size))
    ImageDraw.Draw(image).text((size / 2, size / 2), char, font=face, fill=0, anchor="mm")
    return image.rotate(rng.uniform(-10, 10), fillcolor=255, resample=Image.Resampling.BILINEAR)


def scribble(rng: np.random.Generator, size: int = CANVAS) -> Image.Image:
    """Something drawn that is no character: a wandering line, a zigzag, loops, a spiral, segments."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    width = int(rng.uniform(3, 14))
    lo, hi = 0.15 * size, 0.85 * size
    kind = rng.integers(5)
    if kind == 0:
        heading, p = rng.uniform(0, 2 * np.pi), np.array([size / 2, size / 2])
        pts = [tuple(p)]
        for _ in range(rng.integers(20, 120)):
            heading += rng.normal(0, 0.5)
            p = np.clip(p + 0.03 * size * np.array([np.cos(heading), np.sin(heading)]), lo, hi)
            pts.append(tuple(p))
        draw.line(pts, fill=0, width=width, joint="curve")
    elif kind == 1:
        ys = np.linspace(lo, hi, rng.integers(4, 12))
        draw.line([(lo if j % 2 == 0 else hi, y + rng.normal(0, 5)) for j, y in enumerate(ys)], fill=0, width=width)
    elif kind == 2:
        for _ in range(rng.integers(2, 6)):
            (cx, cy), r = rng.uniform(0.3, 0.7, 2) * size, rng.uniform(0.08, 0.25) * size
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=0, width=width)
    elif kind == 3:
        draw.line([tuple(rng.uniform(lo, hi, 2)) for _ in range(rng.integers(3, 9))], fill=0, width=width)
    else:
        t = np.linspace(0, rng.uniform(6, 20), 200)
        r = (0.05 + 0.3 * t / t.max()) * size
        squash = rng.uniform(0.4, 1.0)
        draw.line(list(zip(size / 2 + r * np.cos(t), size / 2 + r * np.sin(t) * squash)), fill=0, width=width)
    return image


def noise(rng: np.random.Generator, size: int = CANVAS) -> Image.Image:
    """No drawing at all: sensor noise on grey paper, uniform noise, dust specks or blotches."""
    kind = rng.integers(4)
    level = rng.uniform(80, 230)
    if kind == 0:
        a = level + rng.normal(0, rng.choice([5, 10, 20, 40]), (size, size))
    elif kind == 1:
        a = rng.uniform(0, 255, (size, size))
    elif kind == 2:
        a = np.full((size, size), level)
        a[rng.random((size, size)) < rng.uniform(0.001, 0.05)] = 0
    else:
        grain = Image.fromarray(np.clip(level + rng.normal(0, 40, (size, size)), 0, 255).astype(np.uint8))
        a = np.asarray(grain.filter(ImageFilter.GaussianBlur(rng.uniform(1, 4))), dtype=float)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def low_resolution_scan(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The glyph as an old 16x16 scan shown enlarged (like USPS grey or Semeion black-and-white
    digits): cropped to its ink, shrunk to 16 px, perhaps thresholded, blown up with hard edges."""
    a = 255 - np.asarray(image.convert("L"), dtype=np.float32)
    a = np.maximum(a - np.median(a[0]), 0)  # ink above the paper (grey paper is not ink)
    rows, cols = np.flatnonzero(a.max(axis=1) > 30), np.flatnonzero(a.max(axis=0) > 30)
    if rows.size == 0:
        return image
    crop = Image.fromarray(a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    small = np.asarray(crop.resize((16, 16), Image.Resampling.BOX), dtype=np.float32)
    if rng.random() < 0.5:  # black and white
        small = np.where(small > small.max() * rng.uniform(0.3, 0.6), 255.0, 0.0)
    big = Image.fromarray(np.clip(255 - small, 0, 255).astype(np.uint8)).resize((160, 160), Image.Resampling.NEAREST)
    framed = Image.new("L", (200, 200), 255)
    framed.paste(big, (20, 20))
    return framed


def mnist_format(image: Image.Image) -> Image.Image:
    """The glyph as a 28x28 image already in MNIST's format -- fitted into the 20x20 box,
    antialiased, centred by its centre of mass, dark on white -- as a user's drawing tool or a
    dataset may save it. Preprocessing takes such an image *raw* (no stroke-width normalisation,
    no resampling of its own), so the check must see letters and digits in this rendering too,
    not only in the one preprocessing makes."""
    a = 255 - np.asarray(image.convert("L"), dtype=np.float32)
    a = np.maximum(a - np.median(a[0]), 0)
    rows, cols = np.flatnonzero(a.max(axis=1) > 30), np.flatnonzero(a.max(axis=0) > 30)
    if rows.size == 0:
        return image
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32)
    small = np.clip(small / max(small.max(), 1e-6), 0, 1)
    cy, cx = (np.indices(small.shape) * small).reshape(2, -1).sum(axis=1) / max(small.sum(), 1e-6)
    out = np.zeros((28, 28), np.float32)
    top, left = int(np.clip(round(13.5 - cy), 0, 28 - h)), int(np.clip(round(13.5 - cx), 0, 28 - w))
    out[top : top + h, left : left + w] = small
    return Image.fromarray(np.rint(255 * (1 - out)).astype(np.uint8))


def samples(rng: np.random.Generator, rounds: int, fonts: list[str] | None = None,
            low_resolution: float = 0.2, small: float = 0.25, mnist_formatted: float = 0.2):
    """Yield ``(kind, char, image)``: per round every letter hand-drawn once, every digit twice,
    every capital, lower-case letter and digit in one random font, 5 scribbles and 3 noise
    images; a ``low_resolution`` share of the glyphs and scribbles as low_resolution_scan shows
    them, a ``mnist_formatted`` share of the rest as mnist_format saves them and a ``small`` share
    of the rest shrunk to 28-64 px (antialiased), as small drawings come.
    kind: stroke_letter, stroke_digit, font_letter, font_digit, scribble, noise."""
    for kind, char, image in _glyphs(rng, rounds, font_files() if fonts is None else fonts):
        if kind != "noise" and rng.random() < low_resolution:
            image = low_resolution_scan(image, rng)
        elif kind != "noise" and rng.random() < mnist_formatted:
            image = mnist_format(image)
        elif kind != "noise" and rng.random() < small:  # a small drawing or crop, e.g. 28x28
            side = int(rng.choice([28, 40, 64]))
            image = image.resize((side, side), Image.Resampling.BOX)
        yield kind, char, image


def _glyphs(rng: np.random.Generator, rounds: int, fonts: list[str]):
    for _ in range(rounds):
        for char in LETTER_FORMS:
            yield "stroke_letter", char, draw_char(char, rng)
        for char in DIGIT_FORMS:  # twice: the digits' own forms vary as much as the letters'
            yield "stroke_digit", char, draw_char(char, rng)
            yield "stroke_digit", char, draw_char(char, rng)
        if fonts:
            font = fonts[rng.integers(len(fonts))]
            for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + LOWER:
                yield "font_letter", char, font_glyph(char, font, rng)
            for char in "0123456789":
                yield "font_digit", char, font_glyph(char, font, rng)
        for _ in range(5):
            yield "scribble", "", scribble(rng)
        for _ in range(3):
            yield "noise", "", noise(rng)
