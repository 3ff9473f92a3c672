"""Plots: PNG files are written for every kind of picture; the numeric helpers are right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_app.checkpoint import save_checkpoint
from mnist_app.errors import CheckpointError
from mnist_app.network import Network
from mnist_app.plot import (
    AccuracyPlot,
    confusion_matrix,
    describe_config,
    load_history,
    most_confident_mistakes,
    plot_confusion,
    plot_histories,
    plot_history,
    plot_misclassified,
    plot_weights,
)

REPO = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def fake_history(n: int = 5, cost: str = "quadratic") -> dict:
    config = {"sizes": [784, 30, 10], "epochs": n, "batch_size": 10, "eta": 3.0, "cost": cost, "init": "textbook",
              "l2": 0.0, "momentum": 0.0, "schedule": "none", "augment": "none", "dtype": "float32"}
    epochs = [{"epoch": i + 1, "test_accuracy": 0.9 + 0.01 * i, "validation_accuracy": 0.91 + 0.01 * i,
               "cost": 0.1 / (i + 1), "seconds": 0.2} for i in range(n)]
    return {"config": config, "epochs": epochs}


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG


def test_importing_plot_does_not_import_matplotlib() -> None:
    code = "import sys, mnist_app.plot, mnist_app.train; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "False"


def test_history_plots(tmp_path: Path) -> None:
    assert is_png(plot_history(fake_history(), tmp_path / "accuracy.png"))
    runs = [("textbook", fake_history()), ("cross-entropy", fake_history(8, "cross-entropy"))]
    assert is_png(plot_histories(runs, tmp_path / "overlay.png", title="two runs"))
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_accuracy_plot_redraws_the_same_figure_with_the_epochs_so_far(tmp_path: Path) -> None:
    """The trainer's per-epoch plot: each save shows exactly the epochs given, best one starred."""
    history = fake_history(6)
    history["epochs"][2]["validation_accuracy"] = 0.99  # epoch 3 is the best one
    plot = AccuracyPlot(history["config"])
    path = tmp_path / "accuracy.png"
    plot.save(history["epochs"][:1], path)
    first = path.read_bytes()
    assert list(plot.test_line.get_xdata()) == [1] and list(plot.best_marker.get_xdata()) == [1]
    plot.save(history["epochs"][:4], path)
    assert list(plot.test_line.get_xdata()) == [1, 2, 3, 4]
    assert list(plot.validation_line.get_ydata()) == pytest.approx([91.0, 92.0, 99.0, 94.0])
    assert list(plot.best_marker.get_xdata()) == [3]
    legend = [text.get_text() for text in plot.ax.get_legend().get_texts()]
    assert len(legend) == 3 and legend[2].startswith("best validation 99.00% (epoch 3")
    assert plot.ax.get_xlim() == (0.5, 6.5)  # room for all planned epochs from the start
    assert is_png(path) and path.read_bytes() != first


def test_describe_config() -> None:
    text = describe_config({**fake_history()["config"], "l2": 5.0, "augment": "elastic"})
    assert text.startswith("784-30-10, quadratic") and "eta 3.0" in text and "L2 5.0" in text and "elastic" in text


def test_confusion_matrix_counts() -> None:
    labels = np.array([0, 1, 1, 2, 2, 2])
    predictions = np.array([0, 1, 2, 2, 2, 0])
    matrix = confusion_matrix(labels, predictions, 3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]


def test_most_confident_mistakes_order() -> None:
    outputs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.99, 0.01]])
    labels = np.array([1, 1, 1, 0])
    assert most_confident_mistakes(outputs, labels).tolist() == [0, 2]  # 90% sure, then 60% sure
    assert most_confident_mistakes(outputs, labels, count=1).tolist() == [0]


def test_model_pictures(tmp_path: Path) -> None:
    network = Network((784, 12, 10), init="scaled", rng=0)
    rng = np.random.default_rng(1)
    images = rng.random((50, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 50)
    outputs = network.feedforward(images)
    matrix = confusion_matrix(labels, outputs.argmax(axis=1))
    assert is_png(plot_confusion(matrix, tmp_path / "confusion.png"))
    assert is_png(plot_misclassified(images, labels, outputs, tmp_path / "mis.png", count=8))
    assert is_png(plot_weights(network, tmp_path / "weights.png", count=9))
    with pytest.raises(ValueError):
        plot_weights(Network((16, 4, 10), rng=0), tmp_path / "x.png")


def test_load_history_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such"):
        load_history(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match="bad.json"):
        load_history(bad)
    bad.write_text('{"epochs": [{"epoch": 1}]}')
    with pytest.raises(CheckpointError, match="not a training history"):
        load_history(bad)


def run_plot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "plot.py"), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.slow
def test_cli(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.json").write_text(json.dumps(fake_history()))
    done = run_plot("a/history.json", "b/history.json", "-o", "both.png", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["output"] == "both.png" and [r["label"].split(":")[0] for r in report["runs"]] == ["a", "b"]
    assert is_png(tmp_path / "both.png")

    save_checkpoint(tmp_path / "model.npz", Network((784, 9, 10), rng=0), {})
    done = run_plot("--weights", "model.npz", cwd=tmp_path)
    assert done.returncode == 0 and is_png(tmp_path / "weights.png")

    assert run_plot("--help", cwd=tmp_path).returncode == 0
    assert run_plot(cwd=tmp_path).returncode == 2  # nothing to plot
    assert run_plot("a/history.json", "--weights", "model.npz", cwd=tmp_path).returncode == 2
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    done = run_plot("--weights", "broken.npz", cwd=tmp_path)
    assert done.returncode == 1 and "broken.npz" in done.stderr and "Traceback" not in done.stderr
    assert run_plot("missing/history.json", cwd=tmp_path).returncode == 1
    # A model that is not a 784 -> 10 digit classifier, and an output name that is a folder:
    # one line each, exit 1, before any data is loaded.
    save_checkpoint(tmp_path / "odd.npz", Network((784, 9, 5), rng=0), {})
    for args, expected in ((["--confusion", "odd.npz"], "odd.npz: wrong shape"),
                           (["a/history.json", "-o", "a"], "a: is a directory")):
        done = run_plot(*args, "--no-default-mirrors", "--data-dir", "nowhere", cwd=tmp_path)
        assert done.returncode == 1 and expected in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_cli_confusion_on_real_mnist(mnist_mirror_dir: Path, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "model.npz", Network((784, 5, 10), init="scaled", rng=0), {})
    common = ["--mirror", str(mnist_mirror_dir), "--data-dir", str(tmp_path / "data"), "--quiet", "--json"]
    done = run_plot("--confusion", "model.npz", *common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert np.array(report["confusion_matrix"]).sum() == 10_000 and is_png(tmp_path / "confusion.png")
    done = run_plot("--misclassified", "model.npz", "--count", "12", "-o", "m.png", *common, cwd=tmp_path)
    assert done.returncode == 0 and is_png(tmp_path / "m.png")


def test_prediction_figures_are_split_into_numbered_files(tmp_path: Path) -> None:
    """predict --show lives in plot.py: 8 images per figure, then OUT-1.png, OUT-2.png, ..."""
    from mnist_app.plot import plot_predictions, prediction_figure_paths
    from mnist_app.predict import classify_many, failed

    assert prediction_figure_paths(tmp_path / "why.png", 8) == [tmp_path / "why.png"]
    assert prediction_figure_paths(tmp_path / "why.png", 9) == [tmp_path / "why-1.png", tmp_path / "why-2.png"]
    assert prediction_figure_paths(tmp_path / "why.png", 0) == []
    network = Network((784, 12, 10), init="scaled", rng=0)
    rng = np.random.default_rng(1)
    image = tmp_path / "digit.png"
    Image.fromarray((rng.random((40, 30)) * 255).astype(np.uint8)).save(image)
    results = classify_many(network, rng.random((9, 784)), [str(image)] * 9) + [failed("x.png", "x.png: broken")]
    written = plot_predictions(results, tmp_path / "why.png")
    assert written == [tmp_path / "why-1.png", tmp_path / "why-2.png"] and all(is_png(p) for p in written)
    assert not (tmp_path / "why.png").exists()
