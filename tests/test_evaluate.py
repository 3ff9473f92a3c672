"""scripts/evaluate.py (mnist_app/cli/evaluate.py) with a real, quickly trained model (conftest: model_path)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_app.cli import evaluate as evaluate_cli


def test_evaluate_images_from_file_names(model_path, digit_dir, capsys):
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(digit_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 12 and rep["errors"] == 0 and rep["accuracy"] >= 10 / 12
    assert np.asarray(rep["confusion"]).shape == (10, 10) and np.asarray(rep["confusion"]).sum() == 12
    assert rep["breakdown"] == {}


def test_evaluate_manifest_breakdown_and_unreadable(model_path, digit_dir, tmp_path, capsys):
    files = sorted(digit_dir.glob("*.png"))[:4]
    rows = ["file,label,source,style"]
    for i, f in enumerate(files):
        (tmp_path / f.name).write_bytes(f.read_bytes())
        rows.append(f"{f.name},{f.name[0]},{'a' if i < 2 else 'b'},own")
    (tmp_path / "junk.png").write_text("not a png")
    rows.append("junk.png,3,b,own")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    # An unreadable image counts as wrong and makes the run a failure (exit 1), report still printed.
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 5 and rep["errors"] == 1
    assert rep["breakdown"]["source"]["a"]["n"] == 2 and rep["breakdown"]["source"]["b"]["n"] == 3
    assert rep["unreadable"][0]["file"].endswith("junk.png")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "confusion matrix" in captured.out and "by source:" in captured.out
    assert "junk.png" in captured.err
    (tmp_path / "junk.png").unlink()
    (tmp_path / "manifest.csv").write_text("\n".join(rows[:-1]) + "\n")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 0


@pytest.mark.parametrize("manifest, problem", [
    (b"file,label\n\xff\xfe,3\n", "not a readable UTF-8 CSV"),
    (b"file,label\n,3\n", "line 2: no file name"),
    (b"file,label\nx.png,ten\n", "line 2: label 'ten' is not a digit"),
])
def test_evaluate_bad_manifest_is_one_line(model_path, tmp_path, capsys, manifest, problem):
    (tmp_path / "manifest.csv").write_bytes(manifest)
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert problem in err and "manifest.csv" in err and err.count("\n") == 1


def test_evaluate_mnist_test(model_path, quick_network, mnist, mnist_data_dir, capsys):
    args = ["--model", str(model_path), "--data-dir", str(mnist_data_dir), "--quiet", "--json"]
    assert evaluate_cli.main(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 10_000 and rep["unreadable"] == []
    assert rep["accuracy"] == pytest.approx(quick_network.accuracy(mnist.test_images, mnist.test_labels))


@pytest.mark.slow
def test_every_digits_dev_image_is_readable(model_path, digits_dev_dir, capsys):
    """The real, varied dev images (RGB, L, RGBA, 28x28 'own') all preprocess without error."""
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(digits_dev_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 814 and rep["errors"] == 0
    assert set(rep["breakdown"]["style"]) == {"own", "dark-on-white", "light-on-dark", "transparent"}
    assert rep["accuracy"] > 0.6  # a 2-epoch toy model; the shipped model's figure is in the README
