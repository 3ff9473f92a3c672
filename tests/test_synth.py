"""The suites' renderer (mnist_app.synth): a digit redrawn along its pen path keeps its shape, and
a composed number has the gaps its kind says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnist_app import synth


def _enclosed_holes(path: np.ndarray) -> int:
    """Background regions of a pen path that do not reach the border: its loops."""
    labels, n = ndimage.label(~np.pad(path, 1))
    return n - 1  # the one touching the padded border is the outside


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(yy - cy, xx - cx) <= r


def test_a_loop_filled_by_a_thick_pen_is_redrawn_as_a_loop():
    # a "9": a solid head (a thick pen filled its loop) on a long thin tail
    ink = np.zeros((100, 50), np.float32)
    ink[_disc(ink.shape, 20, 25, 17)] = 1.0
    ink[20:100, 36:42] = 1.0
    path = synth.pen_path(synth.SourceDigit(ink, 9, "test"), 100)
    assert _enclosed_holes(path) == 1


def test_an_open_stroke_is_not_given_a_loop():
    ink = np.zeros((100, 60), np.float32)
    ink[10:90, 25:37] = 1.0  # a thick 1
    ink[10:22, 5:37] = 1.0  # its flag
    assert _enclosed_holes(synth.pen_path(synth.SourceDigit(ink, 1, "test"), 100)) == 0


def test_the_pen_path_reaches_the_ends_of_thick_strokes():
    # a 7 with a thick, square-cut crossbar (a scan's blunt ends): redrawn with a thin pen, the bar
    # must still span nearly the ink's width (Zhang-Suen alone stops a half-width short: 10..69)
    ink = np.zeros((100, 80), np.float32)
    ink[5:21, 2:78] = 1.0
    for y in range(5, 100):  # the stem, from the bar's right end down to the left
        x = int(70 - 0.35 * (y - 5))
        ink[y, x - 8 : x + 8] = 1.0
    path = synth.pen_path(synth.SourceDigit(ink, 7, "test"), 100)
    cols = np.flatnonzero(path.any(axis=0))
    rows = np.flatnonzero(path.any(axis=1))
    assert cols[0] <= 2 + 8 * 0.75 and cols[-1] >= 77 - 8 * 0.75
    assert rows[-1] >= 99 - 8 * 0.75
    assert path[rows[0] : rows[0] + 12, :].sum() > 0  # the bar is there, not only a corner


def _column_runs(image) -> list[tuple[int, int]]:
    ink = 1.0 - np.asarray(image.convert("L"), np.float32) / 255
    cols = ink.max(axis=0) > 0.4
    edges = np.flatnonzero(np.diff(np.concatenate(([0], cols.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _bars(count):
    """Digits of one piece each: upright bars of different widths."""
    out = []
    for k in range(count):
        ink = np.zeros((40, 12 + 4 * k), np.float32)
        ink[:, 2:-2] = 1.0
        out.append(synth.SourceDigit(ink, 1, f"bar{k}"))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_separated_digits_are_apart_by_their_gap_and_touching_ones_touch(seed):
    rng = np.random.default_rng(seed)
    image, _ = synth.compose_number(_bars(4), "separated", rng)
    runs = _column_runs(image)
    assert len(runs) == 4
    tallest = (1.0 - np.asarray(image.convert("L"), np.float32) / 255 > 0.4).any(axis=1).sum()
    gaps = [b[0] - a[1] for a, b in zip(runs[:-1], runs[1:])]
    assert min(gaps) >= 0.12 * tallest / 1.4  # 0.12 x the height; the row spans <= 1.4 x it
    image, _ = synth.compose_number(_bars(4), "touching", np.random.default_rng(seed))
    assert len(_column_runs(image)) == 3  # one pair written into each other


def test_ink_difference_is_nil_for_a_faithful_copy_and_large_when_the_shape_is_not_kept():
    ring = np.zeros((100, 70), np.float32)
    ring[_disc(ring.shape, 50, 35, 33) & ~_disc(ring.shape, 50, 35, 23)] = 1.0  # a 0, strokes 10 px
    assert synth.ink_difference(synth.SourceDigit(ring, 0, "test")) < 0.02
    blob = np.zeros((100, 50), np.float32)
    blob[_disc(blob.shape, 20, 25, 17)] = 1.0  # a 9's head filled solid: no pen as wide as its tail
    blob[20:100, 36:42] = 1.0  # draws that blob
    assert synth.ink_difference(synth.SourceDigit(blob, 9, "test")) > 0.1


def test_numbers_suite_reads_the_pool_digits_alone(digits_dev_dir, mnist_mirror_dir, capsys):
    from mnist_app.cli import numbers_suite

    argv = ["--digits-dev", str(digits_dev_dir), "--mnist", str(mnist_mirror_dir), "--model", "shipped",
            "--alone", "--pool", "8", "--json"]
    assert numbers_suite.main(argv) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 16 and report["renders"] == 2
    assert set(report["original"]) == {"all", "digits-dev", "mnist-test"}
    assert report["original"]["all"] >= 0.8 and report["redrawn"]["all"] >= 0.7, report
    assert 0 <= report["ink_difference"]["mean"] < 0.05


@pytest.mark.parametrize("make, csv_name", [(lambda out: synth.make_photo_suite(out, []), "manifest.csv"),
                                            (lambda out: synth.make_numbers_suite(out, [], 0), "numbers.csv")])
def test_a_suite_never_replaces_a_csv_it_did_not_write(make, csv_name, tmp_path):
    """`photo_suite.py --out my_digits` replaced the folder's manifest.csv (the labels of the user's
    digits) with its own; now a csv of that name is replaced only if an earlier suite wrote it."""
    from mnist_app.errors import OutputError

    mine = tmp_path / "my_digits"
    mine.mkdir()
    (mine / csv_name).write_text("file,label\n7_mine.png,7\n")
    with pytest.raises(OutputError, match=f"{csv_name}: exists and was not written by this suite"):
        make(mine)
    assert (mine / csv_name).read_text() == "file,label\n7_mine.png,7\n"
    again = tmp_path / "suite"
    make(again)
    make(again)  # a rerun into its own folder
    assert (again / csv_name).is_file()
