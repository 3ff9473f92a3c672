"""Prediction API, scripts/predict.py and scripts/evaluate.py, with a real (quickly trained) model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_app.checkpoint import save_checkpoint
from mnist_app.cli import evaluate as evaluate_cli
from mnist_app.cli import predict as predict_cli
from mnist_app.errors import CheckpointError
from mnist_app.network import Network
from mnist_app.predict import (
    SHIPPED_MODEL,
    classify,
    classify_files,
    classify_many,
    default_model_path,
    load_model,
)

REPO = Path(__file__).resolve().parent.parent
JSON_KEYS = {"file", "digit", "confidence", "probabilities", "error"}


@pytest.fixture(scope="module")
def network(quick_network) -> Network:
    return quick_network


@pytest.fixture(scope="module")
def model_path(network, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "quick.npz"
    save_checkpoint(path, network, {"note": "test model"})
    return path


@pytest.fixture(scope="module")
def digit_dir(mnist, tmp_path_factory) -> Path:
    """12 MNIST test digits saved as user drawings: 10x upscaled, dark on white, off-centre,
    named '<label>_<i>.png'."""
    directory = tmp_path_factory.mktemp("digits")
    for i in range(12):
        a = 255 - np.rint(mnist.test_images[i] * 255).astype(np.uint8).reshape(28, 28)
        canvas = Image.new("L", (330, 300), 255)
        canvas.paste(Image.fromarray(a).resize((280, 280), Image.Resampling.BILINEAR), (i * 4, 10))
        canvas.convert("RGB").save(directory / f"{mnist.test_labels[i]}_{i:02d}.png")
    return directory


# ------------------------------------------------------------------------------------- API


def test_classify_gives_normalised_probabilities_and_top3(network, mnist):
    pred = classify(network, mnist.test_images[0], file="x")
    p = np.asarray(pred.probabilities)
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0) and (p >= 0).all()
    assert pred.digit == int(np.argmax(network.feedforward(mnist.test_images[:1])[0]))
    assert pred.confidence == pytest.approx(p[pred.digit])
    assert [d for d, _ in pred.top3] == list(np.argsort(-p)[:3])
    assert pred.error is None and pred.ok


def test_classify_many_matches_network_predict(network, mnist):
    X = mnist.test_images[:200]
    preds = classify_many(network, X)
    assert [p.digit for p in preds] == network.predict(X).tolist()


def test_classify_files_keeps_order_and_isolates_bad_files(network, digit_dir, tmp_path):
    good = sorted(digit_dir.glob("*.png"))[:3]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    results = classify_files(network, [good[0], bad, good[1], tmp_path / "missing.png", good[2]])
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert str(bad) in results[1].error and "missing.png" in results[3].error
    assert results[0].input.shape == (784,)


def test_load_model_checks_shape_and_file(model_path, tmp_path):
    net, _ = load_model(model_path)
    assert net.sizes == (784, 30, 10)
    wrong = tmp_path / "wrong.npz"
    save_checkpoint(wrong, Network((784, 30, 5), rng=0), {})
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_model(wrong)
    wrong_in = tmp_path / "wrong_in.npz"
    save_checkpoint(wrong_in, Network((100, 10), rng=0), {})
    with pytest.raises(CheckpointError, match="784 inputs"):
        load_model(wrong_in)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(model_path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupt.npz"):
        load_model(corrupt)
    with pytest.raises(CheckpointError, match="nope.npz"):
        load_model(tmp_path / "nope.npz")


def test_default_model_path_prefers_users_best(tmp_path, model_path):
    assert default_model_path(tmp_path) == SHIPPED_MODEL
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "best.npz").write_bytes(model_path.read_bytes())
    assert default_model_path(tmp_path) == tmp_path / "models" / "best.npz"


# -------------------------------------------------------------------------------- predict CLI


def test_cli_human_output_one_line_per_image(model_path, digit_dir, capsys):
    assert predict_cli.main(["--model", str(model_path), str(digit_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    files = sorted(digit_dir.glob("*.png"))
    assert len(lines) == len(files)
    correct = 0
    for line, f in zip(lines, files):  # sorted directory walk
        name, digit, conf, rest = line.split(None, 3)
        assert name == str(f) and conf.endswith("%") and rest.startswith("top-3:")
        correct += int(digit) == int(f.name[0])
    assert correct >= 10


def test_cli_json_schema_and_bad_file_among_good(model_path, digit_dir, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), "white").save(blank)
    good = sorted(digit_dir.glob("*.png"))[:2]
    code = predict_cli.main(["--json", "--model", str(model_path), str(good[0]), str(blank), str(good[1])])
    out, err = capsys.readouterr()
    assert code == 1
    objs = [json.loads(line) for line in out.splitlines()]
    assert [set(o) for o in objs] == [JSON_KEYS] * 3
    assert objs[0]["error"] is None and objs[2]["error"] is None
    assert len(objs[0]["probabilities"]) == 10 and isinstance(objs[0]["digit"], int)
    assert objs[1]["digit"] is None and "no digit found" in objs[1]["error"]
    assert err.count("\n") == 1 and "blank.png" in err and "no digit found" in err


@pytest.mark.parametrize("kind", ["missing", "corrupt", "wrong-shape"])
def test_cli_bad_model_exits_1_with_one_line(kind, digit_dir, tmp_path, model_path, capsys):
    path = tmp_path / f"{kind}.npz"
    if kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 garbage")
    elif kind == "wrong-shape":
        save_checkpoint(path, Network((784, 20, 9), rng=0), {})
    code = predict_cli.main(["--model", str(path), str(next(digit_dir.glob("*.png")))])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("predict.py: error:") and str(path) in err


def test_cli_show_writes_figure(model_path, digit_dir, tmp_path, capsys):
    out = tmp_path / "why.png"
    files = [str(p) for p in sorted(digit_dir.glob("*.png"))[:2]]
    assert predict_cli.main(["--model", str(model_path), "--show", str(out), *files]) == 0
    with Image.open(out) as im:
        assert im.size[0] > 200


def test_cli_usage_errors_exit_2_and_start_is_light(model_path, digit_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = str(REPO / "scripts" / "predict.py")
    assert subprocess.run([sys.executable, script], capture_output=True, env=env).returncode == 2
    bad_top = subprocess.run([sys.executable, script, "--top", "0", "x.png"], capture_output=True, env=env)
    assert bad_top.returncode == 2
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "examples:" in helped.stdout
    probe = (
        "import sys; sys.argv = ['predict.py', '--model', sys.argv[1], sys.argv[2]]; "
        "from mnist_app.cli.predict import main; code = main(); "
        "heavy = [m for m in ('matplotlib', 'requests', 'tqdm') if m in sys.modules]; "
        "print(code, heavy)"
    )
    one = str(next(digit_dir.glob("*.png")))
    res = subprocess.run([sys.executable, "-c", probe, str(model_path), one], capture_output=True, text=True, env=env)
    assert res.stdout.strip().splitlines()[-1] == "0 []", res.stderr


# ------------------------------------------------------------------------------- evaluate CLI


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


def test_evaluate_mnist_test(model_path, network, mnist, mnist_data_dir, capsys):
    args = ["--model", str(model_path), "--data-dir", str(mnist_data_dir), "--quiet", "--json"]
    assert evaluate_cli.main(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 10_000 and rep["unreadable"] == []
    assert rep["accuracy"] == pytest.approx(network.accuracy(mnist.test_images, mnist.test_labels))


def test_every_digits_dev_image_is_readable(model_path, digits_dev_dir, capsys):
    """The real, varied dev images (RGB, L, RGBA, 28x28 'own') all preprocess without error."""
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(digits_dev_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 814 and rep["errors"] == 0
    assert set(rep["breakdown"]["style"]) == {"own", "dark-on-white", "light-on-dark", "transparent"}
    assert rep["accuracy"] > 0.6  # a 2-epoch toy model; the shipped model's figure is in the README


# ---- the shipped model ------------------------------------------------------------------
SHIPPED_CARD = SHIPPED_MODEL.with_suffix(".json")


def test_shipped_model_matches_its_card():
    import hashlib

    card = json.loads(SHIPPED_CARD.read_text())
    assert hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest() == card["file_sha256"]
    assert SHIPPED_MODEL.stat().st_size < 5_000_000  # "a few MB at most"
    network, meta = load_model(SHIPPED_MODEL)
    assert list(network.sizes) == card["architecture"]["sizes"] == meta["sizes"]
    assert meta["config"] == card["training"]["hyperparameters"]


def test_predict_works_out_of_the_box_with_the_shipped_model(tmp_path):
    """No training, no models/best.npz in the current folder: predict.py uses the shipped model."""
    image = Image.new("L", (200, 240), 255)
    from PIL import ImageDraw

    ImageDraw.Draw(image).line([(60, 40), (150, 40), (90, 200)], fill=0, width=14)  # a 7
    image.save(tmp_path / "seven.png")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "predict.py"), "--json", "seven.png"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["digit"] == 7


def test_shipped_model_accuracy_on_mnist_test(mnist):
    card = json.loads(SHIPPED_CARD.read_text())
    network, _ = load_model(SHIPPED_MODEL)
    accuracy = network.accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy >= 0.98
    assert abs(accuracy - card["results"]["mnist_test_accuracy"]) < 0.001


def test_shipped_model_accuracy_on_real_handwriting(digits_dev_dir):
    """The card's figure on the non-MNIST digits is what evaluate.py measures today."""
    card = json.loads(SHIPPED_CARD.read_text())
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "evaluate.py"), "--model", str(SHIPPED_MODEL),
                           "--images", str(digits_dev_dir), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == card["results"]["digits_dev_images"] and not result["unreadable"]
    assert abs(result["accuracy"] - card["results"]["digits_dev_accuracy"]) < 0.002
    assert result["accuracy"] >= 0.95
