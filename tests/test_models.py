"""mnist_app.models: which model answers, its name and one-line description; the shipped model as
package data; the `mnist-app` / `python -m mnist_app` entry points naming themselves."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mnist_app import models
from mnist_app.checkpoint import save_checkpoint
from mnist_app.cli import evaluate as evaluate_cli
from mnist_app.cli import predict as predict_cli
from mnist_app.errors import CheckpointError

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def trained_here(quick_network, mnist, tmp_path_factory) -> tuple[Path, float]:
    """A directory holding models/best.npz as training writes it (meta with epoch and history),
    for a network weaker than the shipped one; returns (directory, its measured test accuracy)."""
    accuracy = quick_network.accuracy(mnist.test_images, mnist.test_labels)
    directory = tmp_path_factory.mktemp("here")
    (directory / "models").mkdir()
    history = [{"epoch": 1, "test_accuracy": 0.5}, {"epoch": 2, "test_accuracy": accuracy}]
    save_checkpoint(directory / "models" / "best.npz", quick_network, {"epoch": 2, "history": history})
    return directory, accuracy


# ---- the shipped model: package data --------------------------------------------------------


def test_shipped_model_is_package_data_matching_its_card():
    path = models.shipped_path()
    assert path == REPO / "mnist_app" / "shipped" / "shipped.npz"
    card = models.shipped_card()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["file_sha256"]
    assert path.stat().st_size < 5_000_000  # "a few MB at most"
    network, meta, info = models.load("shipped")
    assert list(network.sizes) == card["architecture"]["sizes"] == meta["sizes"]
    assert meta["config"] == card["training"]["hyperparameters"]
    assert info.mnist_test_accuracy == card["results"]["mnist_test_accuracy"]


@pytest.mark.slow
def test_a_plain_build_carries_the_shipped_model(tmp_path):
    """pyproject's package-data puts shipped.npz/.json into the built package, and the lookup
    (importlib.resources) finds them there, with no checkout and no models/ folder around."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copytree(REPO / "mnist_app", source / "mnist_app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build = tmp_path / "lib"
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                           "--build-lib", str(build)], cwd=source, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (build / "mnist_app" / "shipped" / "shipped.npz").is_file()
    assert (build / "mnist_app" / "shipped" / "unsure_thresholds.json").is_file()  # mnist_app.unsure reads it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "from mnist_app import models; n, m, i = models.load('shipped'); print(i.path); print(i.describe())"
    run = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(build)})
    assert run.returncode == 0, run.stderr
    path, description = run.stdout.splitlines()
    assert Path(path) == build / "mnist_app" / "shipped" / "shipped.npz"
    assert description == "mnist_app/shipped/shipped.npz (784-800-10, 98.8% MNIST test, shipped with mnist_app)"


def test_shipped_model_accuracy_on_mnist_test(mnist):
    network, _, info = models.load("shipped")
    accuracy = network.accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy >= 0.98
    assert abs(accuracy - info.mnist_test_accuracy) < 0.001


@pytest.mark.slow
def test_shipped_model_accuracy_on_real_handwriting(digits_dev_dir):
    """The card's figure on the non-MNIST digits is what evaluate.py measures today."""
    card = models.shipped_card()
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "evaluate.py"), "--model", "shipped",
                           "--images", str(digits_dev_dir), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == card["results"]["digits_dev_images"] and not result["unreadable"]
    assert abs(result["accuracy"] - card["results"]["digits_dev_accuracy"]) < 0.001  # less than one image of 814
    assert result["accuracy"] >= 0.95
    assert result["model"]["name"] == "shipped"


# ---- names, default, description ----------------------------------------------------------


def test_names_resolve_to_their_files(tmp_path):
    assert models.resolve("shipped", tmp_path) == ("shipped", models.shipped_path())
    assert models.resolve("best", tmp_path) == ("best", tmp_path / "models" / "best.npz")
    assert models.resolve("personal", tmp_path) == ("personal", tmp_path / "models" / "personal.npz")
    assert models.resolve("last", tmp_path) == ("last", tmp_path / "models" / "last.npz")
    assert models.resolve("runs/x/best.npz", tmp_path) == (None, Path("runs/x/best.npz"))
    assert models.resolve("./best", tmp_path) == (None, Path("./best"))


def test_default_is_what_you_trained_here_else_shipped(tmp_path, trained_here):
    assert models.resolve(None, tmp_path) == ("shipped", models.shipped_path())
    directory, _ = trained_here
    assert models.resolve(None, directory) == ("best", directory / "models" / "best.npz")


@pytest.mark.parametrize("name, hint", [
    ("best", "no training run here yet: train one with scripts/train.py, or use --model shipped"),
    ("personal", "no personal model here yet"),
    ("last", "no training run here yet"),
    ("nope.npz", "no such model file (names: shipped, best, personal, last)"),
])
def test_a_missing_model_is_one_line_saying_what_to_do(tmp_path, name, hint):
    with pytest.raises(CheckpointError) as caught:
        models.load(name, cwd=tmp_path)
    message = str(caught.value)
    assert hint in message and "\n" not in message


def test_wrong_shape_is_refused(tmp_path):
    from mnist_app.network import Network

    wrong = tmp_path / "wrong.npz"
    save_checkpoint(wrong, Network((784, 30, 5), rng=0), {})
    with pytest.raises(CheckpointError, match="need 784 inputs and 10 outputs"):
        models.load(wrong)


def test_a_deep_model_is_named_on_one_short_line(tmp_path):
    """A checkpoint of 200 one-unit layers (loadable: D20) made predict's `model:` line 800
    characters long (6,000 layers: 12,000), and a wrong-shaped one listed every size. Both are
    shortened: the first and last layers and the count."""
    from mnist_app.network import Network

    deep = tmp_path / "deep.npz"
    save_checkpoint(deep, Network((784, *[1] * 200, 10), rng=0), {}, momentum=False)
    Image.new("L", (28, 28), 0).save(tmp_path / "blank.png")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "predict.py"), "blank.png", "--model", "deep.npz"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    model_line = next(line for line in done.stderr.splitlines() if line.startswith("model:"))
    assert model_line == "model: deep.npz (784-1-1-1-...-1-1-1-10, 202 layers)", model_line
    wrong = tmp_path / "wrong.npz"
    save_checkpoint(wrong, Network((784, *[1] * 200, 5), rng=0), {}, momentum=False)
    with pytest.raises(CheckpointError) as caught:
        models.load(wrong)
    assert "layer sizes 784-1-1-1-...-1-1-1-5, 202 layers (need 784 inputs and 10 outputs)" in str(caught.value)


def test_description_names_path_architecture_accuracy_and_origin(trained_here, monkeypatch):
    directory, accuracy = trained_here
    monkeypatch.chdir(directory)
    _, _, info = models.load("best")
    assert info.describe() == f"models/best.npz (784-30-10, {accuracy:.1%} MNIST test, trained here)"
    assert info.to_json() == {
        "name": "best",
        "path": "models/best.npz",
        "sizes": [784, 30, 10],
        "mnist_test_accuracy": accuracy,
        "origin": "trained here",
        "members": 1,
        "description": info.describe(),
    }
    assert info.advice is None  # asked for by name: no advice


def test_a_model_without_history_is_described_without_accuracy(model_path):
    _, _, info = models.load(model_path)
    assert info.describe() == f"{model_path} (784-30-10)"


def test_meta_accuracy_wins_for_fine_tuned_models(quick_network, tmp_path):
    (tmp_path / "models").mkdir()
    save_checkpoint(tmp_path / "models" / "personal.npz", quick_network, {"mnist_test_accuracy": 0.97})
    _, _, info = models.load("personal", cwd=tmp_path)
    assert info.describe().endswith("(784-30-10, 97.0% MNIST test, fine-tuned here on your digits)")


def test_default_weaker_than_shipped_says_so(trained_here, monkeypatch):
    directory, accuracy = trained_here
    monkeypatch.chdir(directory)
    _, _, info = models.load()
    assert info.name == "best"
    assert info.advice == (
        f"using models/best.npz (784-30-10, {accuracy:.1%} MNIST test, trained here); "
        "the shipped model scores 98.8%: add --model shipped"
    )


def test_default_as_good_as_shipped_gives_no_advice(quick_network, tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    history = [{"epoch": 1, "test_accuracy": 0.99}]
    save_checkpoint(tmp_path / "models" / "best.npz", quick_network, {"epoch": 1, "history": history})
    monkeypatch.chdir(tmp_path)
    _, _, info = models.load()
    assert info.name == "best" and info.advice is None
    assert models.announcement(info) == "model: models/best.npz (784-30-10, 99.0% MNIST test, trained here)"


# ---- every answer names its model -----------------------------------------------------------


def test_predict_names_its_model_once_on_stderr(trained_here, digit_dir, monkeypatch, capsys):
    directory, accuracy = trained_here
    monkeypatch.chdir(directory)
    files = [str(p) for p in sorted(digit_dir.glob("*.png"))[:3]]
    assert predict_cli.main(files) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3
    assert err.splitlines() == [
        f"model: using models/best.npz (784-30-10, {accuracy:.1%} MNIST test, trained here); "
        "the shipped model scores 98.8%: add --model shipped"
    ]
    assert predict_cli.main(["--model", "shipped", *files]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "model: mnist_app/shipped/shipped.npz (784-800-10, 98.8% MNIST test, shipped with mnist_app)"
    ]


def test_predict_json_carries_the_model_in_every_object(model_path, digit_dir, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), "white").save(blank)
    good = str(next(digit_dir.glob("*.png")))
    assert predict_cli.main(["--json", "--model", str(model_path), good, str(blank)]) == 1
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(objects) == 2
    assert all(o["model"]["path"] == str(model_path) and o["model"]["sizes"] == [784, 30, 10] for o in objects)


def test_predict_show_figure_title_names_the_model(model_path, digit_dir, tmp_path, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    titles = []
    real_savefig = Figure.savefig

    def spy(self, *args, **kwargs):
        titles.append(self._suptitle.get_text() if self._suptitle else None)
        return real_savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    out = tmp_path / "why.png"
    assert predict_cli.main(["--model", str(model_path), "--show", str(out), str(next(digit_dir.glob("*.png")))]) == 0
    assert out.is_file()
    assert titles == [f"model: {model_path} (784-30-10)"]


def test_evaluate_names_its_model(trained_here, digit_dir, monkeypatch, capsys):
    directory, accuracy = trained_here
    monkeypatch.chdir(directory)
    assert evaluate_cli.main(["--images", str(digit_dir)]) == 0
    out, err = capsys.readouterr()
    description = f"models/best.npz (784-30-10, {accuracy:.1%} MNIST test, trained here)"
    assert out.splitlines()[0] == f"model:    {description}"
    assert err.splitlines() == [f"using {description}; the shipped model scores 98.8%: add --model shipped"]
    assert evaluate_cli.main(["--images", str(digit_dir), "--json", "--model", "best"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["model"]["description"] == description and err == ""


# ---- entry points ---------------------------------------------------------------------------


def test_python_dash_m_and_version():
    from mnist_app import __version__

    done = subprocess.run([sys.executable, "-m", "mnist_app", "--version"], capture_output=True, text=True, env=ENV)
    assert done.returncode == 0 and done.stdout == f"mnist_app {__version__}\n"
    helped = subprocess.run([sys.executable, "-m", "mnist_app", "--help"], capture_output=True, text=True, env=ENV)
    assert helped.returncode == 0 and "usage: python -m mnist_app COMMAND" in helped.stdout
    # no command at all is a usage error: exit 2 with the usage on stderr, as argparse does, not stdout
    bare = subprocess.run([sys.executable, "-m", "mnist_app"], capture_output=True, text=True, env=ENV)
    assert bare.returncode == 2 and bare.stdout == "" and "usage: python -m mnist_app COMMAND" in bare.stderr


def test_subcommands_name_themselves_as_typed(tmp_path, capsys):
    from mnist_app.cli import main

    assert main(["predict", "--model", str(tmp_path / "nope.npz"), "x.png"]) == 1
    assert capsys.readouterr().err.startswith("mnist-app predict: error: ")
    with pytest.raises(SystemExit) as usage:
        main(["train", "--epochs", "0"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mnist-app train") and "mnist-app train: error:" in err and "train.py" not in err
    # run as a script, the same command is still called by its script name
    assert predict_cli.main(["--model", str(tmp_path / "nope.npz"), "x.png"]) == 1
    assert capsys.readouterr().err.startswith("predict.py: error: ")
    done = subprocess.run([sys.executable, "-m", "mnist_app", "predict", "--top", "0", "x.png"],
                          capture_output=True, text=True, env=ENV)
    assert done.returncode == 2 and "python -m mnist_app predict: error: argument --top" in done.stderr


@pytest.mark.parametrize("name", sorted(__import__("mnist_app.cli", fromlist=["COMMANDS"]).COMMANDS))
def test_every_subcommand_names_itself_in_its_usage(name, capsys):
    from mnist_app.cli import common, main

    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: mnist-app {name} ")
    assert common.program_name(f"{name}.py") == f"{name}.py"  # reset for the next command run as a script
