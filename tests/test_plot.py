"""Plots: PNG files are written for every kind of picture; the numeric helpers are right."""

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
    os.mkfifo(tmp_path / "fifo.json")  # never read: it would block forever
    with pytest.raises(CheckpointError, match="fifo.json: not a regular file"):
        load_history(tmp_path / "fifo.json")


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
    assert done.returncode == 0 and is_png(tmp_path / "model-weights.png")

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
    (tmp_path / "a" / "folder.png").mkdir()
    for args, expected in ((["--confusion", "odd.npz"], "odd.npz: wrong shape"),
                           (["a/history.json", "-o", "a/folder.png"], "a/folder.png: is a directory")):
        done = run_plot(*args, "--no-default-mirrors", "--data-dir", "nowhere", cwd=tmp_path)
        assert done.returncode == 1 and expected in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_figure_name_that_is_not_png_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """Figures are always PNG: ``-o fig.jpg`` wrote PNG bytes under a .jpg name (which, e.g.,
    LaTeX then fails to read as a JPEG). Now it is a usage error (exit 2) and no file; the
    library refuses it too (one line)."""
    from mnist_app.errors import OutputError
    from mnist_app.plot import check_outputs

    (tmp_path / "history.json").write_text(json.dumps(fake_history()))
    for name in ("fig.jpg", "fig.svg", "fig"):
        done = run_plot("history.json", "-o", name, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.splitlines()[-1] == (
            f"plot.py: error: argument -o/--output: {name}: figures are saved as PNG; give a name ending in .png")
        assert not (tmp_path / name).exists()
        with pytest.raises(OutputError, match="figures are saved as PNG"):
            check_outputs([tmp_path / name], [])
    assert run_plot("history.json", "-o", "fig.PNG", cwd=tmp_path).returncode == 0 and is_png(tmp_path / "fig.PNG")


@pytest.mark.slow
def test_cli_confusion_on_real_mnist(mnist_mirror_dir: Path, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "model.npz", Network((784, 5, 10), init="scaled", rng=0), {})
    common = ["--mirror", str(mnist_mirror_dir), "--data-dir", str(tmp_path / "data"), "--quiet", "--json"]
    done = run_plot("--confusion", "model.npz", *common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert np.array(report["confusion_matrix"]).sum() == 10_000 and is_png(tmp_path / "model-confusion.png")
    done = run_plot("--misclassified", "model.npz", "--count", "12", "-o", "m.png", *common, cwd=tmp_path)
    assert done.returncode == 0 and is_png(tmp_path / "m.png")


@pytest.mark.slow
def test_prediction_figures_are_split_into_numbered_files(tmp_path: Path) -> None:
    """predict --show lives in plot.py: 8 images per figure, then OUT-1.png, OUT-2.png, ..."""
    from mnist_app.plot import plot_predictions, prediction_figure_paths
    from mnist_app.predict import classify_many, failed

    assert prediction_figure_paths(tmp_path / "why.png", 8) == [tmp_path / "why.png"]
    assert prediction_figure_paths(tmp_path / "why.png", 9) == [tmp_path / "why-1.png", tmp_path / "why-2.png"]
    assert prediction_figure_paths(tmp_path / "why.png", 0) == [tmp_path / "why.png"]  # lists the failures
    network = Network((784, 12, 10), init="scaled", rng=0)
    rng = np.random.default_rng(1)
    image = tmp_path / "digit.png"
    Image.fromarray((rng.random((40, 30)) * 255).astype(np.uint8)).save(image)
    results = classify_many(network, rng.random((9, 784)), [str(image)] * 9) + [failed("x.png", "x.png: broken")]
    written = plot_predictions(results, tmp_path / "why.png")
    assert written == [tmp_path / "why-1.png", tmp_path / "why-2.png"] and all(is_png(p) for p in written)
    assert not (tmp_path / "why.png").exists()


def title_room(figure) -> float:
    """Inches between the figure title's bottom and the top of the highest panel or panel title."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    tops = [max(ax.get_window_extent(renderer).y1, ax.title.get_window_extent(renderer).y1)
            for ax in figure.axes if ax.axison or ax.images]
    return (figure._suptitle.get_window_extent(renderer).y0 - max(tops)) / figure.dpi


@pytest.mark.slow
def test_figure_titles_never_cover_the_first_row() -> None:
    """The misclassified gallery's title touched its first row (0.02 inch apart with 36 digits);
    the --show figure has a title too. Both keep at least 0.1 inch clear."""
    from mnist_app.plot import misclassified_figure, prediction_figure
    from mnist_app.predict import classify_many

    rng = np.random.default_rng(0)
    images = rng.random((60, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 60)
    outputs = rng.random((60, 10))
    for count in (6, 36):
        assert title_room(misclassified_figure(images, labels, outputs, count=count)) >= 0.1
    network = Network((784, 12, 10), init="scaled", rng=0)
    for n in (1, 3):
        shown = prediction_figure(classify_many(network, images[:n], ["x"] * n), title="model: a long model line")
        assert title_room(shown) >= 0.1


def test_comparison_plot_gives_each_cost_function_its_own_axis() -> None:
    """Quadratic (~0.04) and cross-entropy (~0.8) costs are not on one axis."""
    from mnist_app.plot import histories_figure

    quadratic = fake_history(5, "quadratic")
    cross_entropy = fake_history(5, "cross-entropy")
    for e in cross_entropy["epochs"]:
        e["cost"] *= 20
    figure = histories_figure([("q", quadratic), ("q2", fake_history(3, "quadratic")), ("ce", cross_entropy)])
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["accuracy per epoch", "quadratic cost per epoch", "cross-entropy cost per epoch"]
    assert [len(ax.lines) for ax in figure.axes[1:]] == [2, 1]
    single = histories_figure([("q", quadratic)])
    assert len(single.axes) == 2


def test_history_with_a_non_number_is_one_line_error(tmp_path: Path) -> None:
    """D16: test_accuracy "x" was a TypeError traceback."""
    history = fake_history()
    history["epochs"][2]["test_accuracy"] = "x"
    (tmp_path / "history.json").write_text(json.dumps(history))
    with pytest.raises(CheckpointError, match="epoch entry 3: 'test_accuracy' is not a number"):
        load_history(tmp_path / "history.json")
    done = run_plot("history.json", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "history.json: epoch entry 3" in done.stderr


@pytest.mark.slow
def test_cli_outputs_land_beside_their_input_and_never_over_it(tmp_path: Path) -> None:
    """Default outputs go beside the history or model, not into the current folder; --json is
    one object on one line; an input is never overwritten, nor a stranger's file without
    --overwrite; --count above the hidden layer's size says so."""
    run_dir = tmp_path / "runs" / "x"
    run_dir.mkdir(parents=True)
    (run_dir / "history.json").write_text(json.dumps(fake_history()))
    save_checkpoint(run_dir / "best.npz", Network((784, 30, 10), rng=0), {})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    done = run_plot(str(run_dir / "history.json"), "--json", cwd=elsewhere)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done.stderr
    assert json.loads(done.stdout)["output"] == str(run_dir / "history.png") and is_png(run_dir / "history.png")
    done = run_plot(str(run_dir / "history.json"), cwd=elsewhere)  # a previous figure: replaced
    assert done.returncode == 0, done.stderr

    done = run_plot("--weights", str(run_dir / "best.npz"), "--count", "64", cwd=elsewhere)
    assert done.returncode == 0 and is_png(run_dir / "best-weights.png") and not list(elsewhere.iterdir())
    assert "has 30 hidden neurons, not 64: drawing all 30" in done.stderr
    done = run_plot("--weights", str(run_dir / "best.npz"), "--count", "64", "--json", cwd=elsewhere)
    report = json.loads(done.stdout)
    assert report["neurons_drawn"] == 30 and "drawing all 30" in report["notes"][0]

    model_bytes = (run_dir / "best.npz").read_bytes()
    for args in (["--weights", "best.npz", "-o", "best.npz"], ["history.json", "-o", "history.json"]):
        done = run_plot(*args, "--overwrite", cwd=run_dir)  # not a .png name: a usage error
        assert done.returncode == 2 and "figures are saved as PNG" in done.stderr.splitlines()[-1]
    (run_dir / "model.png").symlink_to("best.npz")  # the input under a figure's name
    done = run_plot("--weights", "best.npz", "-o", "model.png", "--overwrite", cwd=run_dir)
    assert done.returncode == 1 and "is one of the input" in done.stderr and done.stderr.count("\n") == 1
    assert (run_dir / "best.npz").read_bytes() == model_bytes
    json.loads((run_dir / "history.json").read_text())

    (run_dir / "notes.png").write_bytes(b"my own notes")
    done = run_plot("history.json", "-o", "notes.png", cwd=run_dir)
    assert done.returncode == 1 and "not a figure written by mnist_app" in done.stderr
    assert (run_dir / "notes.png").read_bytes() == b"my own notes"
    assert run_plot("history.json", "-o", "notes.png", "--overwrite", cwd=run_dir).returncode == 0
    assert is_png(run_dir / "notes.png")
