"""Whole numbers: an image of several digits is read as a number (text, --json, --show)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mnist_app.cli import predict as predict_cli


def number_image(mnist, indices, path, gap=40):
    """MNIST test digits, 4x enlarged, written in a row dark-on-white with ``gap`` px between."""
    parts = []
    for i in indices:
        a = mnist.test_images[i].reshape(28, 28)
        cols = np.flatnonzero(a.max(axis=0) > 0.1)
        parts.append(a[:, cols[0] : cols[-1] + 1])
    height = 28 * 4
    row = [np.zeros((height, 60), np.float32)]
    for part in parts:
        big = np.asarray(Image.fromarray(part, "F").resize((part.shape[1] * 4, height), Image.Resampling.BILINEAR))
        row += [big, np.zeros((height, gap), np.float32)]
    row.append(np.zeros((height, 20), np.float32))
    ink = np.pad(np.concatenate(row, axis=1), ((40, 40), (0, 0)))
    Image.fromarray((255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)).save(path)
    labels = "".join(str(int(mnist.test_labels[i])) for i in indices)
    return path, labels


def first_of(mnist, label):
    return int(np.flatnonzero(mnist.test_labels == label)[0])


def touching_image(mnist, labels, path, overlap):
    """MNIST test digits (the first of each label), 4x enlarged, in a row with 40 px gaps, except
    that the second and third are written ``overlap`` px into each other (ink blended by max)."""
    parts = []
    for label in labels:
        a = mnist.test_images[first_of(mnist, label)].reshape(28, 28)
        cols = np.flatnonzero(a.max(axis=0) > 0.1)
        part = a[:, cols[0] : cols[-1] + 1]
        parts.append(np.asarray(Image.fromarray(part, "F").resize((part.shape[1] * 4, 112), Image.Resampling.BILINEAR)))
    gaps = [40, -overlap] + [40] * (len(parts) - 3)
    canvas = np.zeros((192, 120 + sum(p.shape[1] for p in parts) + sum(gaps)), np.float32)
    x = 60
    for k, part in enumerate(parts):
        region = canvas[40:152, x : x + part.shape[1]]
        np.maximum(region, part, out=region)
        x += part.shape[1] + (gaps[k] if k < len(gaps) else 0)
    Image.fromarray((255 * (1 - np.clip(canvas, 0, 1))).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("labels", ["3005", "3705", "3455"])
def test_digits_written_into_each_other_are_split_where_both_halves_read_as_digits(mnist, tmp_path, labels):
    from mnist_app.predict import classify_files, load_model
    from mnist_app.preprocess import prepare_all

    network = load_model("shipped")[0]
    path = touching_image(mnist, [int(c) for c in labels], tmp_path / "touching.png", overlap=8)
    # the ink profile alone finds no thin column between the two: without the network they are one box
    assert len(prepare_all(path)) == 3
    read = classify_files(network, [path])[0]
    assert read.number == labels, read


@pytest.mark.parametrize("labels", ["3845", "3395", "3365", "3305"])
def test_digits_written_into_each_other_are_cut_where_they_meet(mnist, tmp_path, labels):
    """Two real digits written 8 px into each other, in a row of others: cut straight at the ink
    profile's lowest columns, each half lost a stroke to the other or the pair was kept whole (read
    as 345, 395, 345 and 385 before cuts followed the valley between the strokes and the network
    was asked about evenly spaced cuts too)."""
    from mnist_app.predict import classify_files, load_model

    network = load_model("shipped")[0]
    path = touching_image(mnist, [int(c) for c in labels], tmp_path / "touching.png", overlap=8)
    read = classify_files(network, [path])[0]
    assert read.number == labels, read


@pytest.mark.parametrize("labels", ["3145", "3195", "3165"])
def test_a_one_touching_its_neighbour_is_cut_at_the_thin_bridge(mnist, tmp_path, labels):
    """A 1 written 4 px into its neighbour makes a group no wider than one digit, so the network
    was never asked about it (read as 345, 395 and 365 before): in a row, such a group is cut
    where a cut crosses at most 1.5 pen widths of ink and both halves read as digits."""
    from mnist_app.predict import classify_files, load_model

    path = touching_image(mnist, [int(c) for c in labels], tmp_path / "touching.png", overlap=4)
    read = classify_files(load_model("shipped")[0], [path])[0]
    assert read.number == labels, read


@pytest.mark.parametrize("width", [1.3, 1.6])
def test_a_wide_zero_written_with_a_skipping_fine_pen_stays_one_digit(tmp_path, width):
    """A 0 as wide as 1.3-1.6 x its height drawn with a 4 px pen that skips (dashes of 25 degrees,
    gaps of 8) alone on paper: the gaps make thin columns, and the ink-profile cut made it a
    two-digit "number" before the network could veto the cut of a lone group that reads as a
    digit."""
    from PIL import ImageDraw

    from mnist_app.predict import classify_files, load_model

    h, w = 300, int(width * 300)
    image = Image.new("L", (w + 200, h + 200), 255)
    draw = ImageDraw.Draw(image)
    for start in range(0, 360, 33):
        draw.arc([100, 100, 100 + w, 100 + h], start, start + 25, fill=0, width=4)
    path = tmp_path / "zero.png"
    image.save(path)
    read = classify_files(load_model("shipped")[0], [path])[0]
    assert read.number is None and read.digit == 0, read


def test_a_number_is_read_left_to_right_in_text_and_json(mnist, tmp_path, capsys):
    path, labels = number_image(mnist, [0, 1, 2, 3], tmp_path / "number.png")  # 7, 2, 1, 0
    assert predict_cli.main(["--model", "shipped", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    name, number, rest = line.split("  ", 2)
    assert number == labels == "7210"
    assert rest.startswith("(7 ") and rest.count("%") == 4 and "top-" not in rest
    assert predict_cli.main(["--json", "--model", "shipped", str(path)]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["number"] == "7210" and obj["digit"] is None
    assert [d["digit"] for d in obj["digits"]] == [7, 2, 1, 0]
    lefts = [d["box"][0] for d in obj["digits"]]
    assert lefts == sorted(lefts) and all(len(d["box"]) == 4 and 0 < d["confidence"] <= 1 for d in obj["digits"])


def test_a_single_digit_keeps_its_line_and_json(mnist, tmp_path, capsys):
    path, labels = number_image(mnist, [0], tmp_path / "seven.png")
    assert predict_cli.main(["--model", "shipped", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split()[1] == "7" and "top-3: 7 " in line
    predict_cli.main(["--json", "--model", "shipped", str(path)])
    obj = json.loads(capsys.readouterr().out)
    assert obj["digit"] == 7 and "number" not in obj and "digits" not in obj


def test_show_draws_a_number_with_its_boxes(mnist, tmp_path, capsys):
    path, _ = number_image(mnist, [4, 5, 6], tmp_path / "number.png")
    out = tmp_path / "why.png"
    assert predict_cli.main(["--model", "shipped", str(path), "--show", str(out)]) == 0
    with Image.open(out) as figure:
        assert figure.size[0] > 300 and figure.format == "PNG"


@pytest.mark.slow
def test_numbers_suite_small_run(tmp_path, digits_dev_dir, mnist_mirror_dir):
    from mnist_app import synth
    from mnist_app.synth import evaluate_numbers_suite
    from mnist_app.predict import load_model

    rng = np.random.default_rng(0)
    pool = synth.digits_dev(digits_dev_dir, 40, rng) + synth.mnist_test(mnist_mirror_dir, 40, rng)
    synth.make_numbers_suite(tmp_path, pool, count=24, seed=0)
    report = evaluate_numbers_suite(load_model("shipped")[0], tmp_path)
    assert report["n"] == 24 and set(report["by_kind"]) <= set(synth.NUMBER_KINDS)
    assert 0 < report["ms_per_number"] < 60_000
    # read as one squeezed digit (before numbers were segmented), none of these was right
    assert report["digit_count_right"] >= 0.8 and report["exact"] >= 0.5, report


def test_evaluate_counts_a_labelled_image_read_as_a_number_without_crashing(mnist, tmp_path):
    from mnist_app.evaluate import evaluate_images
    from mnist_app.predict import load_model

    number_image(mnist, [0, 1], tmp_path / "7_two_digits.png")  # labelled 7, holds "72"
    number_image(mnist, [0], tmp_path / "7_one.png")
    rep = evaluate_images(load_model("shipped")[0], tmp_path)
    assert rep["n"] == 2 and rep["correct"] == 1


@pytest.mark.parametrize("label", [0, 3, 7])
def test_a_wide_single_digit_is_not_cut_in_two_by_the_network(mnist, tmp_path, label):
    from mnist_app.predict import classify_files, load_model

    a = mnist.test_images[first_of(mnist, label)].reshape(28, 28)
    cols, rows = np.flatnonzero(a.max(axis=0) > 0.1), np.flatnonzero(a.max(axis=1) > 0.1)
    part = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # 1.5x as wide as tall: too wide for one digit, with no thin column, so the network is asked
    wide = np.asarray(Image.fromarray(part, "F").resize((150, 100), Image.Resampling.BILINEAR))
    ink = np.pad(wide, 40)
    path = tmp_path / "wide.png"
    Image.fromarray((255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)).save(path)
    read = classify_files(load_model("shipped")[0], [path])[0]
    assert read.number is None, read  # one digit, not cut in two
    # A digit stretched 1.5x is hard to read (about 86% of such MNIST test digits are read right,
    # docs/results.md): right, or at least not a confident wrong answer.
    assert read.digit == label or read.unsure, read
