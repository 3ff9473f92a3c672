"""Unsure answers (mnist_app.unsure): the rule on real inputs, the shipped model on generated noise
and letters, and the --no-preprocess size check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mnist_app.cli import predict as predict_cli
from mnist_app.models import load
from mnist_app.predict import classify_files, classify_many, failed
from mnist_app.unsure import (
    INK_EVERYWHERE,
    LOW_CONFIDENCE,
    MAX_NOT_DIGIT_SCORE,
    MIN_TOP_OUTPUT,
    NOT_A_DIGIT,
    SCATTERED_INK,
    main_stroke_shares,
    unsure_reasons,
)

CONFIDENT = np.array([0.01] * 9 + [0.99])


@pytest.fixture(scope="module")
def shipped():
    network, _meta, _info = load("shipped")
    return network


def noise_image(path, sd: float, seed: int, size: int = 200, level: float = 128.0):
    """Gaussian sensor noise on plain grey paper: no digit at all (issue 13, D13)."""
    rng = np.random.default_rng(seed)
    a = np.clip(level + rng.normal(0.0, sd, (size, size)), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


def reasons_for(outputs, images, score=0.0):
    images = np.asarray(images, np.float32).reshape(len(images), -1)
    return unsure_reasons(np.tile(outputs, (len(images), 1)), images, np.full(len(images), score))


# ------------------------------------------------------------------------------ the rule itself


def test_confident_mnist_digits_are_not_unsure(mnist):
    assert reasons_for(CONFIDENT, mnist.test_images[:50]) == [None] * 50


def test_low_top_output_is_low_confidence(mnist):
    x = mnist.test_images[:1]
    low = np.full(10, 0.005)
    low[3] = MIN_TOP_OUTPUT - 0.01  # normalised it is still a "confident" share
    assert low[3] / low.sum() > 0.75
    assert reasons_for(low, x) == [LOW_CONFIDENCE]
    low[3] = MIN_TOP_OUTPUT + 0.01
    assert reasons_for(low, x) == [None]


def test_not_digit_score_above_threshold_is_not_a_digit(mnist):
    x = mnist.test_images[:1]
    assert reasons_for(CONFIDENT, x, MAX_NOT_DIGIT_SCORE + 0.1) == [NOT_A_DIGIT]
    assert reasons_for(CONFIDENT, x, MAX_NOT_DIGIT_SCORE - 0.1) == [None]


def test_ink_everywhere_and_scattered_specks_are_not_digits():
    rng = np.random.default_rng(0)
    texture = rng.uniform(0.2, 1.0, (1, 784))  # the whole field inked
    specks = np.zeros((1, 28, 28), np.float32)
    specks[0, 4:24:5, 4:24:5] = 1.0  # 16 isolated dots, none holds more than 1/16 of the ink
    assert reasons_for(CONFIDENT, texture) == [INK_EVERYWHERE]
    assert reasons_for(CONFIDENT, specks) == [SCATTERED_INK]


def test_main_stroke_shares_per_image_never_across_images():
    a = np.zeros((3, 28, 28), np.float32)
    a[0, 2:6, 2:6] = 1.0  # 16 units ...
    a[0, 20:22, 20:24] = 0.5  # ... and 4 units apart: 16 / 20
    a[1, 0:28, 27] = 1.0  # one stroke along the right edge ...
    a[2, 0:28, 0] = 1.0  # ... and one along the next image's left edge: still separate images
    a[2, 10, 5] = 1.0  # a speck beside it: 28 / 29
    assert main_stroke_shares(a) == pytest.approx([0.8, 1.0, 28 / 29])
    diagonal = np.zeros((1, 28, 28), np.float32)
    diagonal[0, np.arange(10), np.arange(10)] = 1.0  # 8-connected: one stroke
    assert main_stroke_shares(diagonal) == pytest.approx([1.0])
    assert main_stroke_shares(np.zeros((1, 28, 28))) == pytest.approx([0.0])


# -------------------------------------------------------------------------- the Prediction field


def test_prediction_carries_unsure_and_its_json(quick_network, mnist):
    preds = classify_many(quick_network, mnist.test_images[:300])
    assert all(isinstance(p.unsure, bool) for p in preds)
    assert all((p.unsure_reason is not None) == p.unsure for p in preds)
    outputs = quick_network.feedforward(mnist.test_images[:300])
    expected = unsure_reasons(outputs, mnist.test_images[:300])
    assert [p.unsure_reason for p in preds] == expected
    assert any(p.unsure for p in preds) and not all(p.unsure for p in preds)  # a 2-epoch toy model
    obj = json.loads(json.dumps(preds[0].to_json()))
    assert obj["unsure"] is preds[0].unsure and obj["unsure_reason"] == preds[0].unsure_reason
    bad = failed("x.png", "x.png: no digit found").to_json()
    assert bad["unsure"] is False and bad["unsure_reason"] is None


@pytest.mark.slow
def test_shipped_model_is_sure_of_almost_all_mnist_test_digits(shipped, mnist):
    preds = classify_many(shipped, mnist.test_images)
    right = np.array([p.digit for p in preds]) == mnist.test_labels
    unsure = np.array([p.unsure for p in preds])
    assert unsure[right].mean() <= 0.011  # the budget is 1%; measured 0.7% (docs/unsure.md)
    assert unsure[~right].mean() > 0.1  # measured 37.9%


# ------------------------------------------------------------------------- D13: noise, real files


@pytest.mark.parametrize("sd", [5, 10, 20, 40])
def test_noise_images_are_no_digit_or_unsure(shipped, tmp_path, sd):
    paths = [noise_image(tmp_path / f"noise_{sd}_{seed}.png", sd, seed) for seed in range(4)]
    for pred in classify_files(shipped, paths):
        assert not pred.ok and "no digit found" in pred.error or pred.ok and pred.unsure, pred


def test_uniform_noise_is_no_digit_or_unsure(shipped, tmp_path):
    """Uniform noise (every pixel any grey, no paper) once lost its thin parts to the paper-line
    remover -- every row of it qualified as a "line" -- and the clumps left read as a confident 8
    (13 of 150 generated images). Texture is not paper lines: it stays noise, and is flagged."""
    rng = np.random.default_rng(3)
    paths = []
    for seed in range(12):
        path = tmp_path / f"uniform_{seed}.png"
        Image.fromarray(rng.integers(0, 256, (200, 200)).astype(np.uint8)).save(path)
        paths.append(path)
    for pred in classify_files(shipped, paths):
        assert not pred.ok and "no digit found" in pred.error or pred.ok and pred.unsure, pred


def test_cli_marks_noise_unsure_in_text_and_json(tmp_path, capsys):
    path = noise_image(tmp_path / "noise.png", 10, 0)
    code = predict_cli.main(["--model", "shipped", str(path)])
    out, _ = capsys.readouterr()
    if code == 0:  # classified: must say unsure, between the confidence and the top-3
        assert "  unsure (" in out and out.index("unsure") < out.index("top-3:")
        predict_cli.main(["--json", "--model", "shipped", str(path)])
        obj = json.loads(capsys.readouterr().out)
        assert obj["unsure"] is True and obj["unsure_reason"]
    else:  # or found no digit at all
        assert code == 1


def test_confident_digit_line_is_unchanged(shipped, tmp_path, capsys, mnist):
    a = np.rint(mnist.test_images[0] * 255).astype(np.uint8).reshape(28, 28)
    Image.fromarray(255 - a).resize((280, 280), Image.Resampling.BILINEAR).save(tmp_path / "seven.png")
    assert predict_cli.main(["--model", "shipped", str(tmp_path / "seven.png")]) == 0
    line = capsys.readouterr().out.strip()
    name, digit, conf, rest = line.split(None, 3)
    assert digit == "7" and rest.startswith("top-3: 7 ") and "unsure" not in line


# ---------------------------------------------------------------------- --no-preprocess size check


def test_no_preprocess_refuses_an_image_that_is_not_28x28(tmp_path, capsys, mnist):
    a = np.rint(mnist.test_images[0] * 255).astype(np.uint8).reshape(28, 28)  # a 7
    big = tmp_path / "seven400.png"
    Image.fromarray(255 - a).resize((400, 400), Image.Resampling.BILINEAR).save(big)
    small = tmp_path / "seven28.png"
    Image.fromarray(a).save(small)
    code = predict_cli.main(["--no-preprocess", "--model", "shipped", str(big), str(small)])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in err.splitlines() if not line.startswith("model:")]
    assert len(errors) == 1 and "seven400.png" in errors[0] and "400x400, not 28x28" in errors[0]
    assert "Traceback" not in err
    assert out.startswith(f"{small}  7  ")  # the 28x28 one is still read, as it is
    # without the option the big one is preprocessed and read
    assert predict_cli.main(["--model", "shipped", str(big)]) == 0
    assert capsys.readouterr().out.startswith(f"{big}  7  ")


# ------------------------------------------------------------------------ letters: real and drawn


def _letters(directory):
    import csv

    with (directory / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_most_handwritten_letters_are_unsure(shipped, non_digits_dev_dir):
    rows = _letters(non_digits_dev_dir)
    preds = classify_files(shipped, [non_digits_dev_dir / r["file"] for r in rows])
    caught = [not p.ok or p.unsure for p in preds]
    not_digit_like = [c for c, r in zip(caught, rows) if r["digit_like"] == "no"]
    assert len(not_digit_like) == 21
    assert np.mean(not_digit_like) >= 0.55  # measured 71% (docs/unsure.md); one letter is 4.8%


def test_drawn_letters_are_unsure_and_drawn_digits_are_not(shipped, tmp_path):
    """Letters and digits drawn by the synthetic hand (a seed the check never trained on), saved
    as files and read as predict.py reads them."""
    from mnist_app.strokes import DIGIT_FORMS, DIGIT_LIKE, LETTER_FORMS, draw_char

    rng = np.random.default_rng(12345)
    letters, digits = [], []
    for i in range(2):
        for char in LETTER_FORMS:
            if char not in DIGIT_LIKE:
                letters.append(tmp_path / f"letter_{char}_{i}.png")
                draw_char(char, rng).save(letters[-1])
        for char in DIGIT_FORMS:
            digits.append(tmp_path / f"{char}_{i}.png")
            draw_char(char, rng).save(digits[-1])
    letter_preds = classify_files(shipped, letters)
    digit_preds = classify_files(shipped, digits)
    assert np.mean([p.unsure for p in letter_preds]) >= 0.7  # measured 77% here, 78.9% on seed 2 (docs/unsure.md)
    assert np.mean([p.unsure for p in digit_preds]) <= 0.1
    assert np.mean([p.digit == int(f.name[0]) for p, f in zip(digit_preds, digits)]) >= 0.9


@pytest.mark.slow
def test_few_right_digits_dev_answers_are_unsure(shipped, digits_dev_dir):
    import csv

    with (digits_dev_dir / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    preds = classify_files(shipped, [digits_dev_dir / r["file"] for r in rows])
    right = [p for p, r in zip(preds, rows) if p.ok and p.digit == int(r["label"])]
    wrong = [p for p, r in zip(preds, rows) if p.ok and p.digit != int(r["label"])]
    assert np.mean([p.unsure for p in right]) <= 0.025  # the budget is 2%; measured 1.9%
    # Far more of the wrong answers than of the right ones: measured 20% (5 of 25) for the shipped
    # model trained with written forms (19%, 5 of 26, with the preprocessing before d1db16a), 23%
    # (8 of 35) for the one before it (docs/unsure.md)
    assert np.mean([p.unsure for p in wrong]) >= 0.15


# ------------------------------------------------------------------ the training and measuring tools


@pytest.mark.slow
def test_train_digit_check_learns_and_saves_a_loadable_check(mnist, tmp_path):
    from types import SimpleNamespace

    from mnist_app.checkpoint import save_checkpoint
    from mnist_app.digit_check import not_digit_scores
    from mnist_app.unsure_lab import NOT_DIGIT_KINDS, synthetic_set, train_digit_check

    small = SimpleNamespace(train_images=mnist.train_images[:2000], train_labels=mnist.train_labels[:2000])
    synthetic = synthetic_set(seed=3, rounds=2)
    assert set(synthetic.kind) >= {"stroke_letter", "stroke_digit", "scribble"}
    network, meta = train_digit_check(small, synthetic, epochs=4)  # 3 left the margin at 2.0-2.3: too close to 2
    path = tmp_path / "check.npz"
    save_checkpoint(path, network, meta, momentum=False)
    others = synthetic.X[synthetic.select(NOT_DIGIT_KINDS, digit_like=False)]
    digits = mnist.test_images[:500]
    assert np.median(not_digit_scores(others, path)) > np.median(not_digit_scores(digits, path)) + 2


@pytest.mark.slow
def test_measure_unsure_script_reports_the_rule_within_budget(mnist_mirror_dir, digits_dev_dir, non_digits_dev_dir,
                                                              tmp_path):
    """The script runs as the thresholds file says it was run, and the pair it picks today is the
    stated one: a new digit model or a change in the preprocessing that moves the pick fails here
    until the thresholds are re-picked (the pair once stayed stale after two preprocessing changes)."""
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    from mnist_app import unsure

    stated = json.loads(unsure.THRESHOLDS_FILE.read_text(encoding="utf-8"))
    words = shlex.split(stated["command"])
    seed, rounds = words[words.index("--seed") + 1], words[words.index("--rounds") + 1]
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(repo / "scripts" / "measure_unsure.py"), "--data-dir", str(mnist_mirror_dir),
         "--digits-dev", str(digits_dev_dir), "--non-digits-dev", str(non_digits_dev_dir), "--seed", seed,
         "--rounds", rounds, "--quiet", "--json", "--model", "shipped"],
        # The rule's budget is the shipped model's; a models/best.npz in the checkout (README's first
        # command trains one) must not be the model measured.
        cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    flagged = report["rule"]["flagged"]
    assert flagged["digits-dev, right"]["flagged"] <= 0.025
    assert flagged["letters, all 27"]["n"] == 27
    assert report["rule"]["min_top_output"] == MIN_TOP_OUTPUT
    assert any(c["min_top_output"] == MIN_TOP_OUTPUT for c in report["choices"])
    assert "raw top sigmoid (low)" in report["candidates"]
    assert report["chosen"] == {"min_top_output": MIN_TOP_OUTPUT, "max_not_digit_score": MAX_NOT_DIGIT_SCORE}, (
        "the stated unsure thresholds are stale: re-pick them with " + stated["command"])


def test_merged_checks_give_the_mean_log_odds_of_their_members(mnist, tmp_path):
    from mnist_app.checkpoint import save_checkpoint
    from mnist_app.digit_check import not_digit_scores
    from mnist_app.network import Network
    from mnist_app.merge import merge_networks

    members = [Network((784, h, 1), init="scaled", rng=seed) for seed, h in ((1, 5), (2, 7), (3, 4))]
    paths = []
    for i, network in enumerate(members + [merge_networks(members)]):
        paths.append(tmp_path / f"check{i}.npz")
        save_checkpoint(paths[-1], network, {}, momentum=False)
    X = mnist.test_images[:50]
    mean = np.mean([not_digit_scores(X, p) for p in paths[:3]], axis=0)
    np.testing.assert_allclose(not_digit_scores(X, paths[3]), mean, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------- the synthetic hand


def test_every_form_of_every_character_is_drawn_and_preprocessed():
    from mnist_app.preprocess import prepare
    from mnist_app.strokes import DIGIT_FORMS, LETTER_FORMS, draw_strokes

    rng = np.random.default_rng(0)
    for char, forms in {**LETTER_FORMS, **DIGIT_FORMS}.items():
        for form in forms:
            x = prepare(draw_strokes(form, rng)).vector
            assert 0.04 < (x > 0.1).mean() < 0.45, char  # a glyph's worth of ink, not a dot or a blot


def test_forms_vary_between_drawings():
    from mnist_app.strokes import LETTER_FORMS, draw_strokes

    rng = np.random.default_rng(1)
    a, b = (np.asarray(draw_strokes(LETTER_FORMS["H"][0], rng), dtype=float) for _ in range(2))
    assert np.abs(a - b).mean() > 5  # two Hs of one form are two different drawings


# ----------------------------------------------------------------------- choosing the thresholds


def _scored(name, n, rng, *, right_share=0.95):
    from mnist_app.unsure_lab import Scored

    outputs = np.full((n, 10), 0.01)
    outputs[:, 0] = rng.uniform(0.0, 1.0, n) ** 0.2  # mostly confident, a tail of low outputs
    right = rng.random(n) < right_share
    check = rng.normal(-3, 2, n) + np.where(right, 0, 2)
    X = np.zeros((n, 784), np.float32)
    X[:, 300:310] = 1.0  # one plain stroke: the ink tests flag nothing
    return Scored(name, outputs, X, check, right)


def test_picked_thresholds_keep_every_budget_and_catch_the_most():
    from mnist_app.unsure_lab import BUDGETS, pick_thresholds

    rng = np.random.default_rng(0)
    dev, test = _scored("digits-dev", 800, rng), _scored("MNIST test", 3000, rng)
    letters = _scored("synthetic", 500, rng)
    letters.check = letters.check + 5  # letters score high
    chosen, rows = pick_thresholds([dev, test], letters, np.ones(500, bool))
    assert len(rows) > 3
    for r in rows:
        for s in (dev, test):
            f = s.flags_with(r["min_top_output"], r["max_not_digit_score"])  # == the rule (test below)
            assert f[s.right].mean() <= BUDGETS[s.name]
        caught = np.mean([r["letters"], r["digits-dev, wrong"], r["MNIST test, wrong"]])
        assert r["caught"] == pytest.approx(caught) and caught <= chosen["caught"]
    assert chosen["min_top_output"] > 0  # spending some budget on low outputs catches wrong answers here


def test_stated_thresholds_come_from_the_written_file():
    from mnist_app import unsure

    stated = json.loads(unsure.THRESHOLDS_FILE.read_text(encoding="utf-8"))
    assert (MIN_TOP_OUTPUT, MAX_NOT_DIGIT_SCORE) == (stated["min_top_output"], stated["max_not_digit_score"])


def test_fast_flags_for_a_threshold_pair_match_the_rule(shipped, mnist):
    from mnist_app.unsure_lab import flags, score

    X = np.concatenate([mnist.test_images[:300], np.random.default_rng(0).uniform(0, 1, (20, 784))])
    s = score("MNIST test", shipped, X.astype(np.float32))
    for t, cut in ((0.4, 3.8), (0.9, -1.0), (0.0, 10.0)):
        np.testing.assert_array_equal(s.flags_with(t, cut), flags(s, min_top_output=t, max_not_digit_score=cut))


def test_letters_saved_in_mnist_format_are_taken_raw_and_mostly_unsure(shipped, tmp_path):
    """A 28x28 letter already in MNIST's format skips most of the preprocessing (it is taken raw):
    the check must not take that rendering for "a digit"."""
    from mnist_app.preprocess import prepare
    from mnist_app.strokes import DIGIT_LIKE, LETTER_FORMS, draw_char, mnist_format

    rng = np.random.default_rng(54321)
    paths = []
    for char in LETTER_FORMS:
        if char not in DIGIT_LIKE:
            paths.append(tmp_path / f"letter_{char}.png")
            mnist_format(draw_char(char, rng)).save(paths[-1])
    assert np.mean([prepare(p).raw for p in paths]) > 0.9
    # measured 56-69% over four seeds (the check trained before MNIST-format letters: 22-31%)
    assert np.mean([p.unsure for p in classify_files(shipped, paths)]) >= 0.4


def test_train_digit_check_merges_checks_trained_apart(mnist, tmp_path, capsys):
    from mnist_app.checkpoint import load_checkpoint, save_checkpoint
    from mnist_app.cli import train_digit_check as cli
    from mnist_app.digit_check import not_digit_scores
    from mnist_app.network import Network

    paths = []
    for seed in (1, 3):
        paths.append(tmp_path / f"s{seed}.npz")
        save_checkpoint(paths[-1], Network((784, 6, 1), init="scaled", rng=seed), {"members": [{"seed": seed}]},
                        momentum=False)
    out = tmp_path / "merged.npz"
    assert cli.main(["--merge", *map(str, paths), "--out", str(out)]) == 0
    X = mnist.test_images[:20]
    np.testing.assert_allclose(not_digit_scores(X, out), np.mean([not_digit_scores(X, p) for p in paths], axis=0),
                               rtol=1e-4, atol=1e-4)
    assert [m["seed"] for m in load_checkpoint(out)[1]["members"]] == [1, 3]
    from mnist_app.digit_check import CHECK_MODEL

    digit_model = CHECK_MODEL.parent / "shipped.npz"  # 784-800-10: not a check
    capsys.readouterr()
    assert cli.main(["--merge", str(paths[0]), str(digit_model), "--out", str(tmp_path / "bad.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a digit check network" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "bad.npz").exists()


def test_train_digit_check_refuses_an_unknown_augment_kind_in_one_line(capsys):
    from mnist_app.cli import train_digit_check as cli

    with pytest.raises(SystemExit) as usage:  # argparse's usage error, before any MNIST is loaded
        cli.main(["--augment", "affine+bogus", "--out", "unused.npz"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --augment: unknown augmentation kind 'affine+bogus'" in err and "Traceback" not in err
