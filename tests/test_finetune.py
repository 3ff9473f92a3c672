"""mnist_app/finetune.py and scripts/finetune.py: teach the network the user's own digits."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_app.errors import ImageError
from mnist_app.finetune import Settings, finetune, fold_of, passes_plan, read_user_digits

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "finetune.py"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_source(digits_dev_dir: Path, target: Path, source: str, per_digit: int) -> list[str]:
    """The first ``per_digit`` images of each digit of one digits-dev source, with a manifest."""
    rows = list(csv.DictReader(open(digits_dev_dir / "manifest.csv", newline="")))
    target.mkdir()
    chosen = []
    for digit in range(10):
        mine = [r for r in rows if r["source"] == source and r["label"] == str(digit)][:per_digit]
        for r in mine:
            shutil.copy(digits_dev_dir / r["file"], target / r["file"])
            chosen.append(r)
    with open(target / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["file", "label", "source", "style"])
        writer.writeheader()
        writer.writerows(chosen)
    return [r["file"] for r in chosen]


def _run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


# ---------------------------------------------------------------------------- reading the folder


def test_bad_rows_unreadable_images_and_duplicates_are_listed_and_skipped(digits_dev_dir, tmp_path):
    folder = tmp_path / "mine"
    files = _copy_source(digits_dev_dir, folder, "usps", 1)
    shutil.copy(folder / files[3], folder / "copy_of_a_three.png")
    (folder / "broken.png").write_bytes(b"not a png at all")
    with open(folder / "manifest.csv", "a", newline="") as fh:
        fh.write("copy_of_a_three.png,3,usps,dark-on-white\n")
        fh.write("broken.png,4,usps,dark-on-white\n")
        fh.write(f"{files[0]},x,usps,dark-on-white\n")

    user = read_user_digits(folder)

    assert len(user) == 10 and sorted(user.labels.tolist()) == list(range(10))
    assert [Path(f).name for f, _ in user.duplicates] == ["copy_of_a_three.png"]
    problems = " | ".join(p for _, p in user.skipped)
    assert "broken.png" in problems and "label 'x' is not a digit" in problems
    assert user.sha256[0] == _sha256(folder / files[0])


def test_a_folder_with_no_usable_image_is_one_error(tmp_path):
    (tmp_path / "7_broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageError, match="no usable labelled digit image"):
        read_user_digits(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="no labelled images"):
        read_user_digits(empty)


def test_empty_folder_on_the_command_line_is_one_line_exit_1(tmp_path, mnist_data_dir):
    (tmp_path / "empty").mkdir()
    result = _run("empty", "--data-dir", str(mnist_data_dir), "--no-default-mirrors", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "empty" in result.stderr and "no labelled images" in result.stderr


def test_log_has_no_progress_bar_and_the_next_command_works_as_pasted(digits_dev_dir, mnist_data_dir, model_path,
                                                                        tmp_path):
    """Run as ``python -m mnist_app finetune`` with stderr going to a file, as in a log: the bar's
    carriage returns stayed in it (train and download draw bars only on a terminal), and the
    closing hint named ``python scripts/predict.py`` and an --out path with a space unquoted,
    which the shell would split."""
    _copy_source(digits_dev_dir, tmp_path / "mine", "usps", 1)
    result = subprocess.run([sys.executable, "-m", "mnist_app", "finetune", "mine", "--model", str(model_path),
                             "--out", "my models/mine.npz", "--presentations", "1", "--data-dir",
                             str(mnist_data_dir), "--no-default-mirrors"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "fine-tuning:" not in result.stderr
    assert "next: python -m mnist_app predict --model 'my models/mine.npz' IMAGE" in result.stdout


def test_a_bad_folder_is_reported_before_mnist_is_loaded(tmp_path):
    """The folder was read only after MNIST: a typo in it downloaded 11 MB first, and offline the
    user was told about mirrors instead of the folder. Now the folder (and the base model) come
    first; here MNIST is nowhere to be had, and each error still names the folder."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a folder")
    for folder, problem in (("missing", "not a directory"), ("notes.txt", "not a directory"),
                            ("empty", "no labelled images")):
        result = _run(folder, "--data-dir", str(tmp_path / "no-mnist"), "--no-default-mirrors", cwd=tmp_path)
        assert result.returncode == 1 and result.stdout == "", result
        assert result.stderr == f"finetune.py: error: {folder}: {problem}" + (
            " (need manifest.csv or files named like 7_x.png)\n" if folder == "empty" else "\n")
    assert not (tmp_path / "no-mnist").exists()


def test_out_is_checked_before_any_work_and_never_loses_a_file(tmp_path):
    """--out mine.json had the card written over the model (exit 0, the model lost); --out
    notes.npz replaced the user's notes.json, --out over any other file replaced it; a folder, or
    a place under a file, was refused only after the whole fine-tune. Now a name not ending in
    .npz is a usage error, and the rest one line each before MNIST is looked for (there is none)."""
    from PIL import Image, ImageDraw

    (tmp_path / "mine").mkdir()
    image = Image.new("L", (60, 60), 255)
    ImageDraw.Draw(image).line([(30, 8), (30, 52)], fill=0, width=6)
    image.save(tmp_path / "mine" / "1_a.png")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    (tmp_path / "notes.json").write_text("keep")
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "fifo.npz")  # must not be opened: reading it would block
    no_mnist = ["--data-dir", str(tmp_path / "no-mnist"), "--no-default-mirrors"]
    done = _run("mine", "--out", "mine.json", *no_mnist, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.splitlines()[-1] == (
        "finetune.py: error: argument --out: mine.json: a model is saved as .npz (its card beside it as .json); "
        "give a name ending in .npz")
    for out, problem in (("junk.npz", "junk.npz: exists and is not a model written by mnist_app"),
                         ("notes.npz", "notes.json: exists and is not a fine-tune card written by mnist_app"),
                         ("fifo.npz", "fifo.npz: exists and is not a model written by mnist_app"),
                         ("folder.npz", "folder.npz: is a directory; give a file name"),
                         ("junk.npz/x.npz", "junk.npz: is a file, not a directory")):
        done = _run("mine", "--out", out, *no_mnist, cwd=tmp_path)
        assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1, done
        assert done.stderr.startswith(f"finetune.py: error: {problem}"), done.stderr
    assert (tmp_path / "junk.npz").read_bytes() == b"junk" and (tmp_path / "notes.json").read_text() == "keep"
    assert not (tmp_path / "notes.npz").exists() and not (tmp_path / "no-mnist").exists()


def test_an_earlier_finetunes_model_and_card_are_replaced(tmp_path):
    """A rerun replaces models/personal.npz and its card: check_out lets a model and a card pass."""
    from mnist_app.checkpoint import save_checkpoint
    from mnist_app.errors import OutputError
    from mnist_app.finetune import check_out
    from mnist_app.network import Network

    out = tmp_path / "models" / "personal.npz"
    check_out(out, tmp_path / "base.npz")  # nothing there yet: the folder is made
    save_checkpoint(out, Network((784, 5, 10), rng=0), {})
    (tmp_path / "models" / "personal.json").write_text(json.dumps({"base": {}, "results": {}, "settings": {}}))
    check_out(out, tmp_path / "base.npz")
    with pytest.raises(OutputError, match="is the base model"):
        check_out(out, out)
    (tmp_path / "models" / "personal.json").write_text(json.dumps({"my": "notes"}))
    with pytest.raises(OutputError, match="personal.json: exists and is not a fine-tune card"):
        check_out(out, tmp_path / "base.npz")


def test_measure_finetune_reports_a_bad_folder_in_one_line(tmp_path):
    """scripts/measure_finetune.py printed an ImageError traceback for a missing folder."""
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "measure_finetune.py"), "missing",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "measure_finetune.py: error: missing: not a directory\n")


# ---------------------------------------------------------------------------- the recipe's parts


def test_folds_deal_every_digit_round_the_folds():
    labels = np.repeat(np.arange(10), 7)
    fold = fold_of(labels, 5, np.random.default_rng(0))
    for digit in range(10):
        counts = np.bincount(fold[labels == digit], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert sorted(np.bincount(fold).tolist()) == [14] * 5


def test_presentations_are_capped_for_big_folders():
    settings = Settings(presentations=50, max_user_examples=25_000, passes=5)
    assert sum(passes_plan(100, settings)) == 50
    assert sum(passes_plan(1000, settings)) == 25
    assert sum(passes_plan(100_000, settings)) == 1  # every digit is shown at least once


def test_finetune_leaves_the_base_network_alone(quick_network, mnist):
    before = [w.copy() for w in quick_network.weights]
    X, y = mnist.test_images[:20], mnist.test_labels[:20].astype(np.int64)
    tuned = finetune(quick_network, X, y, mnist.train_images, mnist.train_labels,
                     Settings(presentations=2, passes=1), np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(before, quick_network.weights))
    assert not all(np.array_equal(a, b) for a, b in zip(before, tuned.weights))


# ---------------------------------------------------------------------------- the whole command


@pytest.mark.slow
def test_command_writes_model_and_card_and_never_touches_the_base(digits_dev_dir, mnist_data_dir, model_path,
                                                                   tmp_path):
    base = tmp_path / "base.npz"
    shutil.copy(model_path, base)
    base_sum = _sha256(base)
    files = _copy_source(digits_dev_dir, tmp_path / "mine", "semeion", 1)

    result = _run("mine", "--model", str(base), "--presentations", "3", "--data-dir", str(mnist_data_dir),
                  "--no-default-mirrors", "--quiet", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert _sha256(base) == base_sum
    assert "before" in result.stdout and "after" in result.stdout and "--model personal" in result.stdout
    model, card_file = tmp_path / "models" / "personal.npz", tmp_path / "models" / "personal.json"
    card = json.loads(card_file.read_text())
    assert card["base"]["sha256"] == base_sum
    assert card["file_sha256"] == _sha256(model)
    assert sorted(Path(i["file"]).name for i in card["images"]) == sorted(files)
    assert all(i["sha256"] == _sha256(tmp_path / "mine" / Path(i["file"]).name) for i in card["images"])
    assert card["settings"]["presentations"] == 3
    assert card["results"]["folds"] == 5 and 0 <= card["results"]["user_after_cv"] <= 1

    # The tuned model answers by name, and says which model it is.
    predict = subprocess.run([sys.executable, str(REPO / "scripts" / "predict.py"), "--model", "personal",
                              str(tmp_path / "mine" / files[0])], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    assert predict.returncode == 0, predict.stderr
    assert "personal.npz" in predict.stderr and "fine-tuned" in predict.stderr

    # Fine-tuning "personal" into itself would change the base on disk: refused.
    again = _run("mine", "--model", "personal", "--data-dir", str(mnist_data_dir), "--no-default-mirrors",
                 "--quiet", cwd=tmp_path)
    assert again.returncode == 1 and "never written over" in again.stderr
    assert json.loads(card_file.read_text())["file_sha256"] == _sha256(model)


@pytest.mark.slow
def test_a_small_real_finetune_improves_held_back_semeion_digits(digits_dev_dir, mnist, tmp_path):
    """Ten Semeion digits of each kind teach the shipped model; the other Semeion digits (never
    trained on) are read better afterwards, and MNIST is not forgotten."""
    from mnist_app.finetune import accuracy
    from mnist_app.models import load

    files = set(_copy_source(digits_dev_dir, tmp_path / "train", "semeion", 10))
    rows = list(csv.DictReader(open(digits_dev_dir / "manifest.csv", newline="")))
    held = [r for r in rows if r["source"] == "semeion" and r["file"] not in files]
    from mnist_app.preprocess import prepare

    X_held = np.stack([prepare(digits_dev_dir / r["file"]).vector for r in held])
    y_held = np.array([int(r["label"]) for r in held])
    user = read_user_digits(tmp_path / "train")
    base, _meta, _info = load("shipped")

    tuned = finetune(base, user.vectors, user.labels, mnist.train_images, mnist.train_labels, Settings(),
                     np.random.default_rng(1))

    before, after = accuracy(base, X_held, y_held), accuracy(tuned, X_held, y_held)
    gained = round((after - before) * len(y_held))  # in images: fractions would make 3.0 points 2.9999
    assert gained >= 0.03 * len(y_held), (before, after)
    test_X = mnist.test_images[:3000]
    assert accuracy(tuned, test_X, mnist.test_labels[:3000]) >= accuracy(base, test_X, mnist.test_labels[:3000]) - 0.01


def test_mnist_app_finetune_subcommand_names_itself():
    result = subprocess.run([sys.executable, "-m", "mnist_app", "finetune", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "python -m mnist_app finetune" in result.stdout and "--model" in result.stdout and "examples:" in result.stdout


def test_the_command_module_loads_without_numpy_so_one_blas_thread_takes_effect():
    """cli/finetune asks for one BLAS thread before numpy loads (many mini-batches of 20: OpenBLAS's
    threads only wait for each other); that only works if importing the command loads no numpy."""
    code = ("import sys; import mnist_app.cli.finetune; "
            "print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "False", result.stderr
