"""Pictures of training runs and trained networks (PNG files, matplotlib's Agg backend).

* :func:`plot_history` / :class:`AccuracyPlot` -- ``accuracy.png``: test and validation accuracy
  per epoch of one run, titled with its hyperparameters (the trainer redraws it after every epoch).
* :func:`plot_histories` -- several runs overlaid: accuracy and cost per epoch side by side
  (e.g. textbook vs improved vs best).
* :func:`plot_confusion` -- the test set's confusion matrix (rows: true digit, columns: predicted).
* :func:`plot_misclassified` -- a gallery of the test digits the network got wrong most confidently.
* :func:`plot_weights` -- each hidden neuron's 784 incoming weights as a 28x28 image: what it looks for.
* :func:`history_pictures` / :func:`model_picture` -- what ``scripts/plot.py`` draws, with its
  default output names (beside the input) and its JSON report.
* :func:`plot_predictions` -- predict's ``--show`` figure: per image the original, the 28x28 the
  network saw and the probability bars.

matplotlib is imported inside the functions, never at module import, and only through its
object-oriented API with the Agg canvas -- so nothing needs a display and importing
``mnist_app.plot`` (or ``mnist_app.train``) stays cheap. The numeric helpers
(:func:`confusion_matrix`, :func:`most_confident_mistakes`) are plain numpy.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnist_app.errors import CheckpointError, OutputError
from mnist_app.fileio import atomic_write
from mnist_app.imagefiles import printable
from mnist_app.image_format import SIDE


# --------------------------------------------------------------------------- helpers
FIGURE_SOFTWARE = "mnist_app figure"  # PNG "Software" tag: marks a file a later run may replace


def _quiet(function):
    """Run a drawing function with library warnings silenced: e.g. matplotlib's "Glyph missing
    from font" for a file or folder name in a script its font lacks (the box it draws instead is
    enough) must not add lines to stderr."""
    import functools

    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)

    return quiet


def _figure(width: float, height: float):
    """A matplotlib Figure with an Agg canvas (no pyplot, no global state, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | os.PathLike, *, dpi: float | None = None) -> Path:
    """Write the figure as PNG atomically (a viewer never sees half a file)."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi or "figure", metadata={"Software": FIGURE_SOFTWARE})
    return path


def describe_config(config: dict[str, Any]) -> str:
    """A short one-line summary of a run's hyperparameters, for titles and legends."""
    if not config:
        return ""
    parts = ["-".join(str(s) for s in config.get("sizes", ()))]
    for key, label in (("cost", ""), ("init", "init "), ("eta", "eta "), ("batch_size", "batch ")):
        if key in config:
            parts.append(f"{label}{config[key]}")
    if config.get("l2"):
        parts.append(f"L2 {config['l2']}")
    if config.get("momentum"):
        parts.append(f"momentum {config['momentum']}")
    if config.get("schedule", "none") != "none":
        parts.append(f"{config['schedule']} schedule")
    if config.get("augment", "none") != "none":
        parts.append(f"{config['augment']} distortions")
    if config.get("dtype", "float32") != "float32":
        parts.append(str(config["dtype"]))
    return ", ".join(parts)


MAX_HISTORY_BYTES = 64 * 1024 * 1024  # a real history.json is a few kB (one line per epoch)


def load_history(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a ``history.json`` written by the trainer (CheckpointError if unusable)."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_HISTORY_BYTES:
            raise CheckpointError(f"{path}: {st.st_size} bytes is too large for a history.json "
                                  f"(limit {MAX_HISTORY_BYTES})")
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):  # a FIFO would block forever
            raise CheckpointError(f"{path}: not a regular file")
        history = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such history file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a history.json file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable history.json ({' '.join(str(exc).split())[:120]})") from None
    epochs = history.get("epochs") if isinstance(history, dict) else None
    needed = ("epoch", "test_accuracy", "validation_accuracy", "cost")
    if not isinstance(epochs, list) or not all(isinstance(e, dict) and all(k in e for k in needed) for e in epochs):
        raise CheckpointError(f"{path}: not a training history (expected {{'config', 'epochs': [...]}})")
    if not epochs:
        raise CheckpointError(f"{path}: the history holds no completed epoch yet")
    for i, epoch in enumerate(epochs, start=1):
        for key in needed:
            value = epoch[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CheckpointError(f"{path}: epoch entry {i}: {key!r} is not a number ({str(value)[:40]!r})")
    if not isinstance(history.get("config", {}), dict):
        raise CheckpointError(f"{path}: 'config' is not an object")
    history.setdefault("config", {})
    return history


# --------------------------------------------------------------------------- training curves
class AccuracyPlot:
    """accuracy.png of one run: test and validation accuracy (%) per epoch.

    The figure is built once and :meth:`save` redraws it with the epochs so far: the trainer
    calls it after every epoch, and refreshing a figure costs far less than building one
    (measured in docs/results.md).
    """

    def __init__(self, config: dict[str, Any], *, title: str | None = None) -> None:
        import textwrap

        from matplotlib.ticker import MaxNLocator

        self.planned_epochs = config.get("epochs", 1)
        self.figure = _figure(8, 5)
        ax = self.ax = self.figure.add_subplot()
        (self.test_line,) = ax.plot([], [], "o-", ms=3, label="test (10,000 images)")
        (self.validation_line,) = ax.plot([], [], "s--", ms=3, label="validation (10,000 images)")
        # A star on the best epoch, explained in the legend (an arrowed note would cross the curves).
        (self.best_marker,) = ax.plot([], [], "*", ms=13, color="C3")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        heading = title or f"MNIST: {describe_config(config)}"
        ax.set_title(textwrap.fill(heading, 95), fontsize=10)  # long recipes wrap instead of running off
        # Fixed margins instead of tight_layout(): it would draw the figure twice per save.
        self.figure.subplots_adjust(left=0.09, right=0.97, bottom=0.11, top=0.92)

    @_quiet
    def save(self, epochs: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
        """Draw ``epochs`` (the history's list) and write the PNG atomically."""
        x = [e["epoch"] for e in epochs]
        self.test_line.set_data(x, [100 * e["test_accuracy"] for e in epochs])
        self.validation_line.set_data(x, [100 * e["validation_accuracy"] for e in epochs])
        if epochs:
            best = max(epochs, key=lambda e: e["validation_accuracy"])
            self.best_marker.set_data([best["epoch"]], [100 * best["validation_accuracy"]])
            self.best_marker.set_label(
                f"best validation {100 * best['validation_accuracy']:.2f}% "
                f"(epoch {best['epoch']}, test {100 * best['test_accuracy']:.2f}%)"
            )
        self.ax.set_xlim(0.5, max(x[-1] if x else 1, self.planned_epochs) + 0.5)
        _accuracy_limits(self.ax, epochs)
        self.ax.legend(loc="lower right")  # rebuilt: the best-epoch label changes
        return _save(self.figure, path)


def plot_history(history: dict[str, Any], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """accuracy.png: test and validation accuracy (%) per epoch of one run (see AccuracyPlot)."""
    return AccuracyPlot(history.get("config", {}), title=title).save(history["epochs"], path)


def _accuracy_limits(ax, epochs: Sequence[dict[str, Any]]) -> None:
    """Zoom on the interesting band (accuracies start near 90% and creep up)."""
    values = [100 * e[k] for e in epochs for k in ("test_accuracy", "validation_accuracy")]
    if values:
        low = min(values)
        # Ignore a poor first epoch or two when the rest is much better, but never hide more than that.
        later = sorted(values)[min(len(values) - 1, 4)]
        low = low if later - low < 5 else later - 1
        ax.set_ylim(max(0.0, np.floor(low - 0.5)), min(100.0, max(values) + 0.5))


@_quiet
def plot_histories(
    histories: Sequence[tuple[str, dict[str, Any]]], path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """Several runs overlaid (see :func:`histories_figure`), written as PNG."""
    return _save(histories_figure(histories, title=title), path)


def histories_figure(histories: Sequence[tuple[str, dict[str, Any]]], *, title: str | None = None):
    """Accuracy (test solid, validation dashed) and cost per epoch of several runs.

    One colour per run; the run labels (which can be long hyperparameter summaries) form a
    legend below the panels. Costs of different cost functions are not comparable (quadratic
    ~0.04 against cross-entropy ~0.8 for the same network), so each cost function gets its own
    cost panel.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    n = len(histories)
    cost_kinds = list(dict.fromkeys(str(h.get("config", {}).get("cost", "")) for _, h in histories))
    height = 5 + 0.25 * n + (0.4 if title else 0.0)
    figure = _figure(6.5 * (1 + len(cost_kinds)), height)
    acc_ax, *cost_axes = figure.subplots(1, 1 + len(cost_kinds), squeeze=False)[0]
    handles, all_epochs = [], []
    costs: dict[str, list] = {kind: [] for kind in cost_kinds}
    for i, (label, history) in enumerate(histories):
        color = f"C{i % 10}"
        epochs = history["epochs"]
        all_epochs.extend(epochs)
        x = [e["epoch"] for e in epochs]
        acc_ax.plot(x, [100 * e["test_accuracy"] for e in epochs], "-", color=color)
        acc_ax.plot(x, [100 * e["validation_accuracy"] for e in epochs], "--", color=color, alpha=0.7)
        kind = str(history.get("config", {}).get("cost", ""))
        cost_axes[cost_kinds.index(kind)].plot(x, [e["cost"] for e in epochs], "-", color=color)
        costs[kind].extend(e["cost"] for e in epochs)
        best = max(e["validation_accuracy"] for e in epochs) if epochs else float("nan")
        handles.append(Line2D([], [], color=color, label=f"{label}  (best validation {100 * best:.2f}%)"))
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_title("accuracy per epoch")
    _accuracy_limits(acc_ax, all_epochs)
    acc_ax.legend(
        handles=[Line2D([], [], color="0.3", ls="-", label="test"), Line2D([], [], color="0.3", ls="--", label="validation")],
        loc="lower right", fontsize=9,
    )
    for kind, cost_ax in zip(cost_kinds, cost_axes):
        cost_ax.set_xlabel("epoch")
        cost_ax.set_ylabel(f"{kind + ' ' if kind else ''}cost on the validation set (incl. L2 term)")
        cost_ax.set_title(f"{kind + ' ' if kind else ''}cost per epoch")
        if costs[kind] and all(c > 0 for c in costs[kind]):
            cost_ax.set_yscale("log")
    for ax in (acc_ax, *cost_axes):
        ax.grid(True, alpha=0.3, which="both")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title, fontsize=11)
    bottom = min(0.45, (0.35 + 0.25 * n) / height)
    figure.tight_layout(rect=(0, bottom, 1, 1 - (0.4 / height if title else 0.0)))
    figure.legend(handles=handles, loc="lower center", fontsize=9, frameon=False)
    return figure


def history_label(path: str | os.PathLike, history: dict[str, Any]) -> str:
    """Legend label for a history file: its folder name and a summary of the run."""
    path = Path(path)
    name = path.parent.name if path.name == "history.json" and path.parent.name else path.stem
    summary = describe_config(history.get("config", {}))
    return f"{name}: {summary}" if summary else name


# --------------------------------------------------------------------------- model diagnostics
def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """counts[true, predicted] as an (n_classes, n_classes) int64 array.

    A negative prediction (an image that could not be read) is not counted here; see
    :func:`unreadable_per_class`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    answered = predictions >= 0
    return np.bincount(labels[answered] * n_classes + predictions[answered],
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def unreadable_per_class(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """How many images of each true class got no answer (negative prediction: unreadable)."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.bincount(labels[np.asarray(predictions) < 0], minlength=n_classes)


@_quiet
def plot_confusion(matrix: np.ndarray, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """The confusion matrix as a heat map with counts; the diagonal (correct) is greyed out
    of the colour scale so that the mistakes stand out."""
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    errors = matrix.astype(float)
    np.fill_diagonal(errors, 0)
    figure = _figure(7.5, 6.5)
    ax = figure.add_subplot()
    image = ax.imshow(errors, cmap="Reds", vmin=0, vmax=max(1.0, errors.max()))
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, f"{matrix[i, j]:,}", ha="center", va="center", fontsize=8,
                        color="0.35" if i == j else ("white" if errors[i, j] > 0.6 * errors.max() else "black"))
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    total, correct = int(matrix.sum()), int(np.trace(matrix))
    ax.set_title(title or f"confusion matrix: {correct:,} / {total:,} correct ({100 * correct / max(total, 1):.2f}%)",
                 fontsize=10)
    figure.colorbar(image, ax=ax, label="mistakes (off-diagonal counts)")
    figure.tight_layout()
    return _save(figure, path)


def most_confident_mistakes(outputs: np.ndarray, labels: np.ndarray, count: int = 36) -> np.ndarray:
    """Indices of misclassified rows, most confident first.

    Confidence is the winning output's share of the summed outputs (the same normalisation
    the predict command reports).
    """
    from mnist_app.predict import normalise

    outputs = np.asarray(outputs, dtype=np.float64)
    predictions = outputs.argmax(axis=1)
    confidence = normalise(outputs).max(axis=1)
    wrong = np.flatnonzero(predictions != np.asarray(labels))
    return wrong[np.argsort(-confidence[wrong], kind="stable")][:count]


@_quiet
def plot_misclassified(
    images: np.ndarray, labels: np.ndarray, outputs: np.ndarray, path: str | os.PathLike, *, count: int = 36
) -> Path:
    """A gallery of the test digits the network got wrong most confidently (written as PNG)."""
    return _save(misclassified_figure(images, labels, outputs, count=count), path)


def misclassified_figure(images: np.ndarray, labels: np.ndarray, outputs: np.ndarray, *, count: int = 36):
    """The gallery figure: each digit titled '#index: true -> predicted, N% sure'."""
    from mnist_app.predict import normalise

    outputs = np.asarray(outputs)
    chosen = most_confident_mistakes(outputs, labels, count)
    columns = 6
    rows = max(1, -(-len(chosen) // columns))
    head = 0.4  # inches kept free for the figure title (tight_layout ignores suptitles)
    height = 1.9 * rows + head
    figure = _figure(1.7 * columns, height)
    confidence = normalise(outputs).max(axis=1)
    for k in range(rows * columns):
        ax = figure.add_subplot(rows, columns, k + 1)
        ax.set_axis_off()
        if k < len(chosen):
            i = chosen[k]
            ax.imshow(np.asarray(images[i]).reshape(SIDE, SIDE), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"#{i}: {labels[i]} -> {outputs[i].argmax()}\n{100 * confidence[i]:.0f}% sure", fontsize=8)
    wrong = int(np.count_nonzero(outputs.argmax(axis=1) != np.asarray(labels)))
    figure.suptitle(f"most confidently misclassified test digits (true -> predicted); {wrong:,} mistakes in all",
                    fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 1 - head / height))
    return figure


@_quiet
def plot_weights(network, path: str | os.PathLike, *, count: int = 100) -> Path:
    """The first hidden layer's incoming weights, one 28x28 image per neuron (first ``count``).

    Red is a positive weight (ink there excites the neuron), blue negative; each image uses its
    own symmetric colour range.
    """
    weights = np.asarray(network.weights[0], dtype=np.float64)
    if weights.shape[1] != SIDE * SIDE:
        raise ValueError(f"the input layer has {weights.shape[1]} inputs, not 784: cannot draw 28x28 images")
    shown = weights[: max(1, count)]
    columns = int(np.ceil(np.sqrt(len(shown))))
    rows = -(-len(shown) // columns)
    height = 1.1 * rows + 0.8
    figure = _figure(1.1 * columns + 0.4, height)
    for k, w in enumerate(shown):
        ax = figure.add_subplot(rows, columns, k + 1)
        limit = max(np.abs(w).max(), 1e-12)
        ax.imshow(w.reshape(SIDE, SIDE), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(k), fontsize=6, pad=1)
    sizes = "-".join(str(s) for s in network.sizes)
    figure.suptitle(f"{sizes} network: incoming weights of hidden neurons 0-{len(shown) - 1} "
                    f"(red +, blue -)", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))  # room for the title (tight_layout ignores it)
    return _save(figure, path)


# --------------------------------------------------------------------------- plot.py's pictures
MODEL_PICTURES = ("confusion", "misclassified", "weights")
DEFAULT_GALLERY, DEFAULT_NEURONS = 36, 100


def default_output(kind: str, histories: Sequence[str | os.PathLike] = (), model_path: Path | None = None, *,
                   shipped: bool = False) -> Path:
    """Where a picture goes without ``-o``: beside what it shows. One history -> ``HISTORY.png``;
    several -> ``comparison.png`` in their common folder; a model -> ``MODEL-<kind>.png`` beside
    it (the shipped model lives inside the package: its pictures go to the current folder)."""
    if kind == "history":
        if len(histories) == 1:
            return Path(histories[0]).with_suffix(".png")
        folder = os.path.commonpath([os.path.abspath(Path(h).parent) for h in histories])
        return Path(os.path.relpath(folder)) / "comparison.png"
    folder = Path(".") if shipped else model_path.parent
    return folder / f"{model_path.stem}-{kind}.png"


def history_pictures(paths: Sequence[str | os.PathLike], output: Path | None = None, *, title: str | None = None,
                     overwrite: bool = False) -> dict[str, Any]:
    """Overlay the histories in ``paths`` (one line of CheckpointError for a bad one) and write
    the figure (never over an input); return plot.py's report ``{"kind", "output", "runs", "notes"}``."""
    runs = []
    for name in paths:
        history = load_history(name)
        runs.append((history_label(name, history), history))
    output = output or default_output("history", paths)
    check_outputs([output], paths, overwrite=overwrite)
    plot_histories(runs, output, title=runs[0][0] if len(runs) == 1 and title is None else title)
    return {"kind": "history", "output": str(output), "notes": [], "runs": [
        {"label": label, "epochs": len(h["epochs"]),
         "best_validation_accuracy": max(e["validation_accuracy"] for e in h["epochs"]),
         "final_test_accuracy": h["epochs"][-1]["test_accuracy"]}
        for label, h in runs
    ]}


def model_picture(kind: str, network, output: Path, *, inputs: Sequence[str | os.PathLike] = (),
                  count: int | None = None, title: str | None = None, load_data=None,
                  overwrite: bool = False) -> dict[str, Any]:
    """One of MODEL_PICTURES of ``network`` written to ``output`` (never over one of ``inputs``);
    ``load_data()`` gives MNIST (mnist_app.data) for the test-set pictures, called only after
    the output is known to be fine (no download for a picture that would be refused). Returns
    the report: ``kind``, ``output``, ``notes`` and ``neurons_drawn`` or ``test_accuracy``."""
    check_outputs([output], inputs, overwrite=overwrite)
    report: dict[str, Any] = {"kind": kind, "output": str(output), "notes": []}
    if kind == "weights":
        hidden = network.sizes[1]
        drawn = min(count or DEFAULT_NEURONS, hidden)
        if count and count > hidden:  # asked for more than there are: say so rather than draw fewer silently
            report["notes"].append(f"the model has {hidden} hidden neurons, not {count}: drawing all {hidden}")
        plot_weights(network, output, count=drawn)
        report["neurons_drawn"] = drawn
        return report
    data = load_data()
    outputs = network.feedforward(data.test_images)
    predictions = outputs.argmax(axis=1)
    if kind == "confusion":
        matrix = confusion_matrix(data.test_labels, predictions, network.sizes[-1])
        plot_confusion(matrix, output, title=title)
        report["confusion_matrix"] = matrix.tolist()
    else:
        plot_misclassified(data.test_images, data.test_labels, outputs, output, count=count or DEFAULT_GALLERY)
    report["test_accuracy"] = float((predictions == data.test_labels).mean())
    return report


# --------------------------------------------------------------------------- predict --show
PREDICTIONS_PER_FIGURE = 8  # rows in one --show figure; more images go into numbered files
ORIGINAL_MAX_SIDE = 512  # originals are shrunk to this before drawing (a panel is ~240 px wide)
CHECKER_CELL = 8  # px; transparent parts of an original show a grey-and-white checkerboard
FAILED_LISTED = 12  # failed images named at the foot of a figure (the rest: "... and N more")


def prediction_figure_paths(out: str | os.PathLike, count: int, per_figure: int = PREDICTIONS_PER_FIGURE) -> list[Path]:
    """Where :func:`plot_predictions` writes ``count`` images: ``out`` itself, or, when they
    need more than one figure, ``OUT-1.png``, ``OUT-2.png``, ... beside it."""
    out = Path(out)
    figures = -(-count // per_figure)
    if figures <= 1:
        return [out]
    return [out.with_name(f"{out.stem}-{n}{out.suffix or '.png'}") for n in range(1, figures + 1)]


def original_for_display(file: str | os.PathLike, max_side: int = ORIGINAL_MAX_SIDE) -> np.ndarray:
    """The user's image as an RGB uint8 array at most ``max_side`` px on its longer side.

    Shrunk before anything is drawn, so a 40-megapixel photo costs a few hundred kB in the
    figure, not gigabytes (matplotlib keeps float copies of every array it shows). Transparent
    parts are composited onto a checkerboard: a white digit on a transparent background would
    otherwise vanish on the white figure. ImageError (one line) if the file cannot be read.
    """
    from PIL import Image

    from mnist_app.preprocess import open_image

    image = open_image(file)
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if image.mode not in ("RGBA" if has_alpha else "RGB", "L"):
        image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.BOX)  # in place; no-op when small enough
    if not has_alpha:
        return np.asarray(image.convert("RGB"))
    width, height = image.size
    rows, columns = np.indices((height, width)) // CHECKER_CELL
    board = np.where((rows + columns) % 2 == 0, 190, 140).astype(np.uint8)
    background = Image.fromarray(np.repeat(board[:, :, None], 3, axis=2), "RGB").convert("RGBA")
    return np.asarray(Image.alpha_composite(background, image).convert("RGB"))


def _draw_original(ax, file: str) -> None:
    try:
        with warnings.catch_warnings():  # a quirky file's library warnings: not extra stderr lines
            warnings.simplefilter("ignore")
            ax.imshow(original_for_display(file))
    except Exception:  # noqa: BLE001 - it was classified; only redrawing it failed
        ax.text(0.5, 0.5, "(cannot redraw the original)", ha="center", va="center", fontsize=8)
    ax.set_title(printable(Path(file).name), fontsize=9)


def _draw_number(row, pred) -> None:
    """A number's row: its digits boxed on the original, labelled with what each became; the
    28x28 inputs side by side; each digit's confidence (unsure ones in red)."""
    from matplotlib.patches import Rectangle

    from mnist_app.preprocess import open_image

    if row[0].images:  # the original is shown shrunk: stretch it back over its own pixel grid
        try:
            width, height = open_image(pred.file).size
            row[0].images[0].set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
        except Exception:  # noqa: BLE001 - drawn before, so readable; if not, boxes go unscaled
            pass
    for read in pred.digits:
        left, top, right, bottom = read.box
        color = "tab:red" if read.unsure else "tab:orange"
        row[0].add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                                   edgecolor=color, linewidth=1.5))
        row[0].text(left, top - 2, str(read.digit), color=color, fontsize=10, fontweight="bold", va="bottom")
    strip = np.concatenate([np.pad(r.input.reshape(SIDE, SIDE), ((0, 0), (0, 2)), constant_values=0.3)
                            for r in pred.digits], axis=1)
    row[1].imshow(strip, cmap="gray", vmin=0, vmax=1)
    row[1].set_title(f"what the network saw ({len(pred.digits)} x {SIDE}x{SIDE})", fontsize=9)
    for ax in row[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    colors = ["tab:red" if r.unsure else "tab:orange" for r in pred.digits]
    row[2].bar(range(len(pred.digits)), [r.confidence for r in pred.digits], color=colors)
    row[2].set_xticks(range(len(pred.digits)), [str(r.digit) for r in pred.digits])
    row[2].set_ylim(0, 1)
    unsure = f" -- unsure: {pred.unsure_reason}" if pred.unsure else ""
    row[2].set_title(f"number {pred.number}{unsure}", fontsize=9, color="tab:red" if pred.unsure else "black")


def _failure_lines(failed: Sequence) -> list[str]:
    lines = [printable(r.error) for r in failed[:FAILED_LISTED]]
    lines = [line if len(line) <= 110 else line[:106] + " ..." for line in lines]
    if len(failed) > FAILED_LISTED:
        lines.append(f"... and {len(failed) - FAILED_LISTED} more")
    return lines


def is_previous_figure(path: str | os.PathLike) -> bool:
    """True if ``path`` is a PNG that mnist_app wrote (tagged with FIGURE_SOFTWARE)."""
    from PIL import Image

    try:
        with Image.open(path, formats=["PNG"]) as image:
            return image.text.get("Software") == FIGURE_SOFTWARE
    except Exception:  # noqa: BLE001 - anything unreadable as our PNG is "not a previous figure"
        return False


def check_outputs(targets: Sequence[Path], inputs: Sequence[str | os.PathLike], *, overwrite: bool = False) -> None:
    """Refuse (OutputError, before anything is written) to write a figure over one of the
    ``inputs``, or over an existing file that is not a previous figure unless ``overwrite``, or
    under a name that does not end in .png; and say so in one line when a target cannot be
    written because of its folder."""
    input_ids = set()
    for name in inputs:
        try:
            st = os.stat(name)
            input_ids.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    for target in targets:
        target = Path(target)
        try:
            st = target.stat()
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            parent = next((p for p in target.parents if p.exists()), None)
            raise OutputError(f"{target}: cannot write here ({parent} is a file, not a folder)") from None
        except OSError as exc:
            raise OutputError(f"{target}: cannot write here ({exc.strerror or exc})") from None
        if (st.st_dev, st.st_ino) in input_ids:
            raise OutputError(f"{target}: is one of the input images; refusing to draw the figure over it "
                              "(choose another output name)")
        if target.is_dir():
            raise OutputError(f"{target}: is a directory; give a file name")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device: never opened (reading could block)
            raise OutputError(f"{target}: is not a regular file; choose another output name")
        if not overwrite and not is_previous_figure(target):
            raise OutputError(f"{target}: exists and is not a figure written by mnist_app; refusing to "
                              "overwrite it (choose another name, or add --overwrite)")
    for target in targets:
        problem = png_name_problem(target)
        if problem:
            raise OutputError(f"{target}: {problem}")


def png_name_problem(name: str | os.PathLike) -> str | None:
    """Why ``name`` cannot name a figure, or None: figures are always PNG (``_save`` writes PNG
    whatever the name says, so a why.jpg would hold a PNG that other programs fail to read)."""
    if Path(name).suffix.lower() != ".png":
        return "figures are saved as PNG; give a name ending in .png"
    return None


def prediction_figure(chunk: Sequence, *, failed: Sequence = (), title: str | None = None):
    """One --show figure: a row per classified image in ``chunk`` (original | 28x28 input |
    probability bars), the ``failed`` images named at its foot, ``title`` above."""
    notes = [f"not classified ({len(failed)}):", *_failure_lines(failed)] if failed else []
    head = 0.35 if title else 0.0  # inches for the title, so it never covers the first row
    foot = 0.18 * len(notes) + (0.15 if notes else 0.0)
    height = max(2.6 * len(chunk) + head + foot, 1.0)
    figure = _figure(9, height)
    if chunk:
        axes = figure.subplots(len(chunk), 3, squeeze=False)
        for row, pred in zip(axes, chunk):
            _draw_original(row[0], pred.file)
            if pred.number is not None:
                _draw_number(row, pred)
                continue
            row[1].imshow(pred.input.reshape(SIDE, SIDE), cmap="gray", vmin=0, vmax=1)
            row[1].set_title(f"what the network saw ({SIDE}x{SIDE})", fontsize=9)
            for ax in row[:2]:
                ax.set_xticks([])
                ax.set_yticks([])
            colors = ["tab:blue"] * len(pred.probabilities)
            colors[pred.digit] = "tab:orange"
            row[2].bar(range(len(colors)), pred.probabilities, color=colors)
            row[2].set_xticks(range(len(colors)))
            row[2].set_ylim(0, 1)
            unsure = f"\nunsure: {pred.unsure_reason}" if pred.unsure else ""  # own line: the title is narrow
            row[2].set_title(f"answer {pred.digit} ({pred.confidence:.1%}){unsure}", fontsize=9,
                             color="tab:red" if pred.unsure else "black")
    if title:  # which model answered
        figure.suptitle(printable(title), fontsize=10)
    if notes:
        figure.text(0.02, (foot - 0.1) / height, "\n".join(notes), ha="left", va="top", fontsize=8,
                    family="monospace", color="0.25")
    if chunk:
        figure.tight_layout(rect=(0, foot / height, 1, 1 - head / height))
    return figure


@_quiet
def plot_predictions(results: Sequence, out: str | os.PathLike, *, per_figure: int = PREDICTIONS_PER_FIGURE,
                     title: str | None = None, overwrite: bool = False) -> list[Path]:
    """predict's ``--show``: :func:`prediction_figure` for ``per_figure`` classified images
    (``mnist_app.predict.Prediction``) at a time, named by :func:`prediction_figure_paths`; the
    images that failed are listed at the foot of the last one. Checked first with
    :func:`check_outputs` (never over an input). Returns the paths written (none without results)."""
    if not results:
        return []
    good = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    targets = prediction_figure_paths(out, len(good), per_figure)
    check_outputs(targets, [r.file for r in results], overwrite=overwrite)
    for n, target in enumerate(targets):
        last = n == len(targets) - 1
        figure = prediction_figure(good[n * per_figure : (n + 1) * per_figure], failed=failed if last else (),
                                   title=title)
        _save(figure, target, dpi=80)
    return targets
