"""Segmentation: a row of digits -> one box per digit, left to right (mnist_app.segment)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_app.segment import find_digits


def ink_of(image: Image.Image) -> np.ndarray:
    """Dark-on-white drawing -> ink map (1 where drawn)."""
    return (255 - np.asarray(image.convert("L"), dtype=np.float32)) / 255


def canvas(width=600, height=200):
    im = Image.new("L", (width, height), 255)
    return im, ImageDraw.Draw(im)


def one(d, x, y=50, h=100, w=50):
    d.line([(x + w // 2, y), (x + w // 2, y + h)], fill=0, width=9)


def zero(d, x, y=50, h=100, w=60):
    d.ellipse([x, y, x + w, y + h], outline=0, width=9)


def seven(d, x, y=50, h=100, w=60):
    d.line([(x, y), (x + w, y), (x + w // 3, y + h)], fill=0, width=9)


def test_digits_apart_are_found_left_to_right():
    im, d = canvas()
    for k, draw in enumerate((seven, zero, one, zero)):
        draw(d, 40 + 130 * k)
    digits = find_digits(ink_of(im))
    assert len(digits) == 4
    lefts = [dig.box[2] for dig in digits]
    assert lefts == sorted(lefts) and abs(lefts[0] - 40) <= 6
    for dig in digits:  # each digit's ink lies inside its own box only
        top, bottom, left, right = dig.box
        assert dig.ink[:, :left].sum() == 0 and dig.ink[:, right:].sum() == 0


def test_a_detached_bar_and_a_two_stroke_four_stay_one_digit():
    im, d = canvas(400, 220)
    d.line([(60, 50), (140, 50)], fill=0, width=9)  # a 5's top bar, not touching its body
    d.line([(62, 68), (60, 110)], fill=0, width=9)
    d.arc([50, 95, 140, 180], 270, 150, fill=0, width=9)
    d.line([(250, 40), (230, 130), (320, 130)], fill=0, width=9)  # a 4 in two strokes ...
    d.line([(295, 75), (295, 190)], fill=0, width=9)  # ... the stem apart from the rest
    digits = find_digits(ink_of(im))
    assert len(digits) == 2


def test_specks_and_a_dot_are_not_digits():
    im, d = canvas()
    zero(d, 60)
    zero(d, 200)
    d.ellipse([300, 145, 306, 151], fill=0)  # a full stop after the number
    rng = np.random.default_rng(0)
    a = np.asarray(im).copy()
    a[rng.integers(0, 200, 40), rng.integers(0, 600, 40)] = 0
    assert len(find_digits(ink_of(Image.fromarray(a)))) == 2


def test_touching_neighbours_are_split_but_a_wide_digit_is_not():
    im, d = canvas(700, 200)
    seven(d, 40)
    zero(d, 160)
    one(d, 275)
    d.line([(214, 135), (300, 148)], fill=0, width=9)  # a pen stroke running on from the 0 into the 1
    seven(d, 380)
    digits = find_digits(ink_of(im))
    assert len(digits) == 4
    assert 218 <= digits[1].box[3] <= 290  # cut between the 0 and the 1, on the joining stroke
    im, d = canvas(400, 200)
    d.line([(60, 60), (300, 60), (150, 160)], fill=0, width=9)  # a 7 with a very long bar
    assert len(find_digits(ink_of(im))) == 1


@pytest.mark.slow
def test_digits_dev_images_are_never_split(digits_dev_dir):
    import csv

    from mnist_app.preprocess import prepare_all

    with (digits_dev_dir / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    split = [r["file"] for r in rows[::3] if len(prepare_all(digits_dev_dir / r["file"])) != 1]
    assert split == []


def four(d, x, y=50, h=100, w=95):
    """An open 4: a down stroke, a long bar, the stem well to the right."""
    d.line([(x, y), (x, y + 2 * h // 3), (x + w, y + 2 * h // 3)], fill=0, width=9)
    d.line([(x + 3 * w // 5, y + h // 4), (x + 3 * w // 5, y + h)], fill=0, width=9)


def test_a_wide_four_among_narrow_ones_is_one_digit():
    """Wider than 1.35 x the row's median width but narrower than tall: one digit, not a pair."""
    im, d = canvas(700, 200)
    seven(d, 30, w=40)
    seven(d, 130, w=40)
    one(d, 200, w=20)
    four(d, 300, w=90)  # 99 px wide, 101 tall; the row's median width is 49
    seven(d, 460, w=40)
    digits = find_digits(ink_of(im))
    assert len(digits) == 5
    assert digits[3].box[2] <= 300 and digits[3].box[3] >= 390


def test_stray_dots_one_above_the_other_join_their_digit():
    """Two dots beside a digit span half its height but hold little ink: not a digit of their own."""
    im, d = canvas(500, 200)
    zero(d, 60)
    seven(d, 200)
    d.ellipse([278, 80, 286, 88], fill=0)
    d.ellipse([280, 130, 288, 138], fill=0)
    digits = find_digits(ink_of(im))
    assert len(digits) == 2
    assert digits[1].box[3] >= 288  # the dots are in the 7's crop, as they would be if it stood alone
