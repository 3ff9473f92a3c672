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
    # read as one squeezed digit (before numbers were segmented), none of these was right
    assert report["digit_count_right"] >= 0.8 and report["exact"] >= 0.5, report


def test_evaluate_counts_a_labelled_image_read_as_a_number_without_crashing(mnist, tmp_path):
    from mnist_app.evaluate import evaluate_images
    from mnist_app.predict import load_model

    number_image(mnist, [0, 1], tmp_path / "7_two_digits.png")  # labelled 7, holds "72"
    number_image(mnist, [0], tmp_path / "7_one.png")
    rep = evaluate_images(load_model("shipped")[0], tmp_path)
    assert rep["n"] == 2 and rep["correct"] == 1
