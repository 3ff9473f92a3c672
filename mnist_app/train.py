"""Training: epochs of shuffled mini-batch stochastic gradient descent, evaluation, checkpoints.

The loop is the textbook's (Nielsen's ``Network.SGD``): every epoch shuffle the 50,000 training
images, cut them into mini-batches of ``batch_size``, and for each one take a gradient step
``w <- w - (eta/m) * sum of gradients`` (``Network.update_mini_batch``, with the gradients from
backpropagation). After each epoch the network is scored on the 10,000 validation and 10,000
test images.

What this module adds around that loop:

* **Speed.** No per-example Python work: ``fast_sgd.sgd_epoch`` gathers each mini-batch with
  ``np.take`` straight into preallocated, C-contiguous buffers (images and precomputed one-hot
  labels) and runs the vectorised update, a few matrix products per mini-batch.
* **Exact reproducibility.** One ``np.random.Generator`` drives everything random in a run
  (initial weights, shuffling, distortions). Its state is saved in ``last.npz`` after every
  epoch, so ``--resume`` continues with the very same random numbers: an interrupted-then-resumed
  run ends with bit-identical weights to an uninterrupted one.
* **Safe files.** After every epoch ``history.json``, ``best.npz`` (when validation accuracy
  improves), ``accuracy.png`` and last ``last.npz`` (the commit point --resume starts from) are
  written atomically. Ctrl-C in the middle of an epoch loses only that epoch; a model folder is
  locked while a run writes it; a diverging run stops before saving non-finite weights.
* **One folder per run.** Runs without a model folder go to ``models/runs/NNN``, and a completed
  run's files are copied to ``models/`` (see :func:`train`, docs/cli-train.md).
* **Opt-in improvements** (defaults stay the textbook's): momentum, learning-rate schedules,
  early stopping, distortions of the training images (mnist_app.augment), named presets.

Printing is not done here: the loop reports to a :class:`Reporter` (the command line's prints the
``Epoch 3/30: ...`` lines and a tqdm bar), which keeps :func:`train` quiet and testable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_app import constraints
from mnist_app.augment import KINDS, parse_kind
from mnist_app.checkpoint import load_checkpoint, read_meta, rng_from_state, rng_state, save_checkpoint
from mnist_app.constraints import Check, Constraint, Interval, Literal, Options, Sizes
from mnist_app.errors import BusyError, CheckpointError, MnistAppError, OutputError, TrainingError
from mnist_app.fast_sgd import sgd_epoch
from mnist_app.fileio import (
    LOCK_NAME,
    atomic_write,
    copy_atomically,
    ensure_directory,
    lock_directory,
    remove_stale_temporaries,
)
from mnist_app.interrupts import sigint_handled_by
from mnist_app.network import COSTS, DTYPES, INITS, Network, one_hot

SCHEDULES = ("none", "step", "cosine", "halve-on-plateau")

LAST, BEST, HISTORY, PLOT = "last.npz", "best.npz", "history.json", "accuracy.png"
RUN_FILES = (LAST, BEST, HISTORY, PLOT)
#: What a completed run copies into its home folder (``models/``), so ``models/best.npz`` (the model
#: predict.py uses by default), ``models/last.npz`` and ``models/history.json`` are the latest
#: completed run's. The last one is written last: an interrupted copy keeps the previous model.
PUBLISHED = (PLOT, HISTORY, LAST, BEST)
#: Runs of a home folder live in ``HOME/runs/001``, ``HOME/runs/002``, ...
RUNS = "runs"


def _check_augment(kind: Any) -> None:
    if kind != "none":
        parse_kind(kind)


def _check_init_from(path: Any) -> None:
    if not isinstance(path, str) or not path.strip():
        raise ValueError(path)


_DISTORTIONS = ", ".join(dict.fromkeys(part for parts in KINDS.values() for part in parts))
AUGMENT_KINDS = f"none, {', '.join(KINDS)}, or a '+'-joined combination of those and {_DISTORTIONS}"

#: What each TrainConfig field may be: the one place settings are checked. TrainConfig.validate and
#: the command line's flag parsing (mnist_app.cli.train) both read it. ``None`` in a list allows None.
PARAMETER_CONSTRAINTS: dict[str, list[Constraint | None]] = {
    "sizes": [Sizes(min_layers=2)],
    "epochs": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 1, None)],
    "eta": [Interval(float, 0, None, closed="neither")],
    "cost": [Options(tuple(COSTS))],
    "init": [Options(INITS)],
    "l2": [Interval(float, 0, None, closed="left")],
    "dtype": [Options(DTYPES)],
    # np.random.default_rng takes any integer >= 0; None (the command line's "random") draws one.
    "seed": [Interval(int, 0, None), Literal("random", None)],
    "momentum": [Interval(float, 0, 1, closed="left")],
    "schedule": [Options(SCHEDULES)],
    "step_size": [Interval(int, 1, None)],
    "step_gamma": [Interval(float, 0, 1, closed="right")],
    "plateau_patience": [Interval(int, 1, None)],
    "patience": [Interval(int, 1, None), None],
    "augment": [Check(_check_augment, AUGMENT_KINDS)],
    "init_from": [Check(_check_init_from, "a model file's path"), None],
}


@dataclass
class TrainConfig:
    """Every hyperparameter of a run. The defaults are the textbook's (Nielsen, chapter 1):
    784-30-10, 30 epochs, mini-batch 10, eta 3.0, quadratic cost, N(0, 1) initialisation -- and a
    fixed seed (1, as PyTorch's MNIST example), so the same command gives the same run; ``seed=None``
    draws a fresh one (recorded in the history, so that run can be repeated too). What each field may
    be is in :data:`PARAMETER_CONSTRAINTS`.

    Beyond the textbook (all off by default):

    * ``momentum`` -- classical momentum coefficient mu: v <- mu v - eta grad; w <- w + v.
    * ``schedule`` -- learning rate per epoch: ``step`` multiplies eta by ``step_gamma`` every
      ``step_size`` epochs; ``cosine`` follows eta * (1 + cos(pi * (e - 1) / epochs)) / 2 for epoch e;
      ``halve-on-plateau`` halves eta after ``plateau_patience`` epochs without a new best
      validation accuracy.
    * ``patience`` -- early stopping: stop after this many epochs without a new best validation
      accuracy (``None`` = never).
    * ``augment`` -- distort the whole training array once per epoch with
      ``mnist_app.augment.augment_batch(images, rng, kind=augment)``: a kind of
      ``mnist_app.augment.KINDS`` or a '+'-joined combination (``"affine+elastic+styles"``).
    * ``init_from`` -- start from this model's weights instead of random ones (a model name or
      file, as ``--model`` takes: mnist_app.models.resolve; its layer sizes must be ``sizes``):
      continue a trained model on new distortions at a small ``eta``.
    """

    sizes: tuple[int, ...] = (784, 30, 10)
    epochs: int = 30
    batch_size: int = 10
    eta: float = 3.0
    cost: str = "quadratic"
    init: str = "textbook"
    l2: float = 0.0
    dtype: str = "float32"
    seed: int | None = 1
    momentum: float = 0.0
    schedule: str = "none"
    step_size: int = 10
    step_gamma: float = 0.5
    plateau_patience: int = 2
    patience: int | None = None
    augment: str = "none"
    init_from: str | None = None

    def __post_init__(self) -> None:
        self.sizes = tuple(int(n) if isinstance(n, numbers.Integral) else n for n in self.sizes)

    def validate(self) -> None:
        """Raise ValueError (one line naming every bad setting) for an impossible configuration."""
        constraints.validate({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                             PARAMETER_CONSTRAINTS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (sizes as a list)."""
        data = dataclasses.asdict(self)
        data["sizes"] = list(self.sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatibility)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """A preset from :data:`PRESETS`, with ``overrides`` on top."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})


# Named recipes. Each lists only what differs from the textbook defaults. Their measured accuracies,
# and the probes that chose them, are in docs/results-train.md.
PRESETS: dict[str, dict[str, Any]] = {
    # Nielsen chapter 1, network.py.
    "textbook": {},
    # Chapter 3's fixes on the same small net -- cross-entropy, scaled init, L2 -- plus a cosine
    # learning-rate decay.
    "improved": {"cost": "cross-entropy", "init": "scaled", "eta": 0.5, "l2": 5.0, "schedule": "cosine"},
    # Nielsen chapter 3, network2.py's 784-100-10 run (cross-entropy, L2 lambda 5.0, eta 0.5,
    # mini-batch 10) with a cosine learning-rate decay over 30 epochs.
    "network2": {
        "sizes": (784, 100, 10), "cost": "cross-entropy", "init": "scaled", "eta": 0.5, "l2": 5.0,
        "schedule": "cosine",
    },
    # Simard, Steinkraus & Platt (2003) class: 800 hidden, cross-entropy, elastic distortions
    # (alpha 34, sigma 4) redrawn every epoch, 240 epochs of mini-batch 20 with momentum 0.5 and
    # a cosine-decayed eta.
    "best": {
        "sizes": (784, 800, 10), "cost": "cross-entropy", "init": "scaled", "eta": 0.5, "momentum": 0.5,
        "batch_size": 20, "l2": 1.0, "schedule": "cosine", "augment": "elastic", "epochs": 240,
    },
    # The model shipped as mnist_app/shipped/shipped.npz: "best", trained for people's own drawings
    # rather than for MNIST alone. Affine distortions with a random width stretch (many people write
    # wider digits than MNIST's), elastic distortions, "styles" -- crossed 7s, flagged and footed 1s,
    # closed-top 4s, which European writers use and MNIST almost never shows -- and "lowres": some
    # digits redrawn as a 16x16-ish scan reaches the network after predict enlarges it; "synth":
    # some digits swapped for synthetic written forms (curved-arm 4s, Z-shaped 7s, ...,
    # mnist_app.written_forms). Trained in two steps: "shipped" from random weights, then
    # "shipped-step2" continues its best.npz (--init-from) at a lower rate (docs/results.md).
    "shipped": {
        "sizes": (784, 800, 10), "cost": "cross-entropy", "init": "scaled", "eta": 0.5, "momentum": 0.5,
        "batch_size": 20, "l2": 1.0, "schedule": "cosine", "augment": "affine+elastic+styles+lowres+synth",
        "epochs": 150,
    },
}
PRESETS["shipped-step2"] = {**PRESETS["shipped"], "eta": 0.05, "epochs": 20}


@dataclass
class EpochRecord:
    """One line of history.json. Accuracies are fractions in [0, 1]; ``cost`` is the cost (with
    its L2 term) on the validation set; ``seconds`` is the epoch's training + evaluation time,
    and ``timing`` splits it into ``augment`` (distorting the images), ``sgd`` (the mini-batch
    updates) and ``evaluate`` (test and validation accuracy and cost) -- where the time goes."""

    epoch: int
    test_accuracy: float
    validation_accuracy: float
    cost: float
    seconds: float
    eta: float
    test_correct: int
    test_total: int
    timing: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`train` returns (and what :class:`TrainingInterrupted` carries)."""

    network: Any
    config: TrainConfig
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_validation_accuracy: float | None
    stopped_early: bool = False
    model_dir: Path | None = None
    #: The home folder (``models/``) this completed run's files were copied to (:func:`publish`).
    published_to: Path | None = None
    interrupted: bool = False
    #: Files that --resume rewrote from last.npz because a crash had left them behind it.
    repaired: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest (the command line's ``--json``)."""
        last = self.history[-1] if self.history else {}
        return {
            "epochs_completed": len(self.history),
            "final_test_accuracy": last.get("test_accuracy"),
            "final_validation_accuracy": last.get("validation_accuracy"),
            "best_epoch": self.best_epoch,
            "best_validation_accuracy": self.best_validation_accuracy,
            "best_test_accuracy": (
                self.history[self.best_epoch - 1]["test_accuracy"] if self.best_epoch else None
            ),
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
            "total_seconds": round(sum(e["seconds"] for e in self.history), 3),
            # Where the time went, summed over the epochs (older histories may lack "timing").
            "seconds_by_part": {
                part: round(sum(e.get("timing", {}).get(part, 0.0) for e in self.history), 3)
                for part in ("augment", "sgd", "evaluate")
            },
            "model_dir": str(self.model_dir) if self.model_dir else None,
            "best_model": str(self.model_dir / BEST) if self.model_dir and self.best_epoch else None,
            "published_to": str(self.published_to) if self.published_to else None,
            "config": self.config.to_dict(),
        }


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a reporter hook raising KeyboardInterrupt) stopped :func:`train`; ``result`` holds
    the epochs completed before it (their files are saved) with ``interrupted=True``."""

    def __init__(self, result: TrainResult) -> None:
        super().__init__("interrupted")
        self.result = result


class Reporter:
    """Hooks the training loop calls. The base class does nothing; subclass what you need.

    Raising from a hook aborts training like Ctrl-C would (tests use this to interrupt a run
    in the middle of an epoch).
    """

    def on_start(self, config: TrainConfig, start_epoch: int, batches_per_epoch: int) -> None:
        """Before the first epoch (``start_epoch`` > 1 when resuming)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Before shuffling for ``epoch`` (1-based)."""

    def on_batches(self, epoch: int, done: int, total: int) -> None:
        """Progress within ``epoch``: ``done`` of ``total`` mini-batches are finished.
        Called about 100 times an epoch (not after every mini-batch)."""

    def on_epoch_end(self, record: dict[str, Any], config: TrainConfig) -> None:
        """After the epoch was evaluated and its files written."""

    def on_end(self, result: TrainResult) -> None:
        """After the last epoch (not called when training was interrupted)."""


def format_epoch_line(record: dict[str, Any], total_epochs: int) -> str:
    """``Epoch 3/30: 9,412 / 10,000 test (94.12%), validation 94.60%, 0.21 s``."""
    return (
        f"Epoch {record['epoch']}/{total_epochs}: "
        f"{record['test_correct']:,} / {record['test_total']:,} test ({100 * record['test_accuracy']:.2f}%), "
        f"validation {100 * record['validation_accuracy']:.2f}%, {record['seconds']:.2f} s"
    )


def learning_rate(config: TrainConfig, epoch: int, history: Sequence[dict[str, Any]]) -> float:
    """eta for 1-based ``epoch`` given the history of the epochs before it.

    Depends only on the config and the history, so a resumed run recomputes the same value.
    """
    eta = config.eta
    if config.schedule == "step":
        return eta * config.step_gamma ** ((epoch - 1) // config.step_size)
    if config.schedule == "cosine":
        return eta * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / config.epochs))
    if config.schedule == "halve-on-plateau" and history:
        current = history[-1]["eta"]
        best_index = int(np.argmax([h["validation_accuracy"] for h in history]))
        last_change = max(
            [i for i in range(1, len(history)) if history[i]["eta"] != history[i - 1]["eta"]], default=0
        )
        # Epochs without a new best since the last best, or since the last halving (whose
        # first epoch counts as one of the stalled ones), whichever is later.
        stalled = len(history) - 1 - max(best_index, last_change - 1)
        return current * 0.5 if stalled >= config.plateau_patience else current
    return eta


def _best(history: Sequence[dict[str, Any]]) -> tuple[int | None, float | None]:
    """(epoch, validation accuracy) of the first epoch with the highest validation accuracy."""
    if not history:
        return None, None
    index = int(np.argmax([h["validation_accuracy"] for h in history]))
    return history[index]["epoch"], history[index]["validation_accuracy"]


def _checksums(data: Any) -> dict[str, str]:
    return dict(getattr(data, "checksums", {}) or {})


def _data_arrays(data: Any, dtype: np.dtype) -> dict[str, np.ndarray]:
    """The MNIST-shaped object's arrays, images in the network dtype and C-contiguous."""
    out = {}
    for split in ("train", "validation", "test"):
        images = np.ascontiguousarray(getattr(data, f"{split}_images"), dtype=dtype)
        labels = np.asarray(getattr(data, f"{split}_labels"))
        if images.ndim != 2 or len(images) != len(labels):
            raise ValueError(f"{split} images {images.shape} and labels {labels.shape} do not match")
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels
    return out


def write_history(path: Path, config: TrainConfig, history: Sequence[dict[str, Any]]) -> None:
    """history.json: ``{"config": {...}, "epochs": [{"epoch", "test_accuracy", ...}, ...]}``."""
    with atomic_write(path, "w") as handle:
        json.dump({"config": config.to_dict(), "epochs": list(history)}, handle, indent=1)
        handle.write("\n")


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold back Ctrl-C (SIGINT) until the block is done, then raise KeyboardInterrupt.

    Used around the end-of-epoch writes so that last.npz, best.npz, history.json and the
    printed line always describe the same epoch. (Each file is atomic on its own anyway.)
    Only possible in the main thread; elsewhere the block simply runs.
    """
    caught: list[int] = []
    with sigint_handled_by(lambda signum, frame: caught.append(signum)):
        yield
    if caught:
        raise KeyboardInterrupt


def new_run_directory(home: str | os.PathLike) -> Path:
    """Reserve the next numbered run folder ``HOME/runs/NNN`` (001, 002, ...) and return it.

    ``mkdir`` either creates a folder or fails because it exists, so two trainings started at once
    get different numbers.
    """
    runs = ensure_directory(Path(home) / RUNS)
    try:
        numbered = [p for p in runs.iterdir() if p.name.isdigit()]
        for run in numbered:
            _sweep(run)
        number = max((int(p.name) for p in numbered), default=0) + 1
        while True:
            candidate = runs / f"{number:03d}"
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                number += 1
    except OSError as exc:
        raise OutputError(f"{runs}: cannot create a run folder here ({exc.strerror or exc})") from None


def _sweep(run: Path) -> None:
    """Remove the temporaries a killed run left in ``run`` -- unless a live run holds it."""
    with contextlib.suppress(MnistAppError, OSError), lock_directory(run):
        remove_stale_temporaries(run, RUN_FILES)


def latest_run_directory(home: str | os.PathLike) -> Path | None:
    """The highest-numbered run folder under ``HOME/runs`` that holds a resumable ``last.npz``."""
    runs = Path(home) / RUNS
    try:
        numbered = [p for p in runs.iterdir() if p.name.isdigit() and (p / LAST).is_file()]
    except OSError:  # no runs folder yet (or one we cannot list: then there is nothing to resume either)
        return None
    return max(numbered, key=lambda p: int(p.name), default=None)


def _home_of(directory: Path, home: str | os.PathLike | None) -> Path | None:
    """``home`` if ``directory`` is one of its numbered runs (so the run publishes there), else None."""
    if home is None:
        return None
    try:
        return Path(home) if directory.resolve().parent == (Path(home) / RUNS).resolve() else None
    except OSError:
        return None


def publish(run_directory: Path, home: Path) -> None:
    """Copy a completed run's files (:data:`PUBLISHED`) into ``home`` (``models/``), so
    ``models/best.npz`` is always the best model of the latest completed run. Two runs finishing at
    once take turns (a lock held only while copying); each copy is atomic on its own."""
    with lock_directory(home, wait=True, name=".publish.lock"):
        remove_stale_temporaries(home, PUBLISHED)
        for name in PUBLISHED:
            if (run_directory / name).is_file():
                copy_atomically(run_directory / name, home / name)
            else:  # (a run without a plot): do not leave the previous run's beside this one's files
                with contextlib.suppress(OSError):
                    (home / name).unlink()


def _remove_if_unused(directory: Path) -> None:
    """Remove a reserved run folder in which nothing was saved (the run failed or was interrupted
    before its first epoch ended), so run numbers are not wasted on empty folders."""
    with contextlib.suppress(OSError):
        if all(p.name == LOCK_NAME for p in directory.iterdir()):
            (directory / LOCK_NAME).unlink(missing_ok=True)
            directory.rmdir()


def _resumed_config(stored: TrainConfig, requested: TrainConfig | dict[str, Any], path: Path) -> TrainConfig:
    """The checkpoint's configuration with ``epochs`` and ``patience`` from ``requested``.

    A TrainConfig contributes only those two fields. A dict holds just the settings the user chose;
    any other setting in it must agree with the checkpoint (a resumed run never silently changes
    its recipe).
    """
    if isinstance(requested, TrainConfig):
        return dataclasses.replace(stored, epochs=requested.epochs, patience=requested.patience)
    changes = dict(requested)
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    conflicts = [
        f"{name} {_show(value)} (checkpoint: {_show(getattr(stored, name))})"
        for name, value in changes.items()
        if name not in ("epochs", "patience") and value != getattr(stored, name)
    ]
    if conflicts:
        raise TrainingError(
            f"{path}: --resume continues with the checkpoint's settings, but "
            f"{'; '.join(conflicts)} differ (drop those flags or start a new --model-dir)"
        )
    return dataclasses.replace(stored, **{k: changes[k] for k in ("epochs", "patience") if k in changes})


def _initial_network(config: TrainConfig) -> Any:
    """The network of ``config.init_from`` (a model name or file), checked against ``config``'s
    sizes and dtype."""
    from mnist_app.models import resolve

    network, _ = load_checkpoint(resolve(config.init_from)[1])
    sizes = tuple(int(n) for n in network.sizes)
    if sizes != config.sizes:
        raise TrainingError(f"{config.init_from}: layer sizes {_show(sizes)} differ from the run's {_show(config.sizes)}")
    if network.weights[0].dtype != np.dtype(config.dtype):
        raise TrainingError(f"{config.init_from}: holds {network.weights[0].dtype} weights, the run uses {config.dtype}")
    return network


def _show(value: Any) -> str:
    return "-".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _repair(directory: Path, network: Any, meta: dict[str, Any], config: TrainConfig, plot: bool) -> list[str]:
    """Bring history.json, accuracy.png and best.npz up to ``last.npz`` (the commit point of every
    epoch, written last). A crash between an epoch's writes -- or a run by an older version, which
    wrote last.npz first -- can leave them one epoch behind it; returns the names rewritten."""
    history = meta["history"]
    repaired = []
    try:
        on_disk = json.loads((directory / HISTORY).read_text())["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        on_disk = None
    if on_disk != history:
        write_history(directory / HISTORY, config, history)
        repaired.append(HISTORY)
        if plot and history:
            from mnist_app.plot import AccuracyPlot

            AccuracyPlot(config.to_dict()).save(history, directory / PLOT)
            repaired.append(PLOT)
    best_epoch, _ = _best(history)
    if best_epoch is not None and best_epoch == meta.get("epoch"):  # else its weights are not in last.npz
        try:
            best_on_disk = read_meta(directory / BEST).get("epoch")
        except CheckpointError:
            best_on_disk = None
        if best_on_disk != best_epoch:
            save_checkpoint(directory / BEST, network, meta, momentum=False)
            repaired.append(BEST)
    return repaired


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. inside a folder we may not search: let ensure_directory say so
        return True


def _all_finite(network: Any) -> bool:
    arrays = [*network.weights, *network.biases, *(network.velocities or [])]
    return all(np.isfinite(a).all() for a in arrays)


def train(
    config: TrainConfig | dict[str, Any],
    data: Any,
    *,
    model_dir: str | os.PathLike | None = None,
    home: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    reporter: Reporter | None = None,
    plot: bool = True,
) -> TrainResult:
    """Train a network on ``data`` and return a :class:`TrainResult`.

    ``data`` is an :class:`mnist_app.data.MNIST` (or anything with the same
    ``{train,validation,test}_{images,labels}`` attributes), or a function returning one: it is then
    called only once the model folder is checked and locked, so a refused run downloads nothing.

    Where files go. With ``model_dir``, after every epoch: ``history.json``, ``best.npz`` (new best
    validation accuracy), ``accuracy.png`` (``plot=True``) and last ``last.npz``. With ``home`` and no
    ``model_dir``, the run gets the next numbered folder ``HOME/runs/NNN``; a run in such a folder
    (also one named with ``model_dir``) that completes copies its files into ``home`` (:func:`publish`). A model folder is locked while a run uses it: a
    second run into it raises :class:`BusyError`. A folder that already holds a run is refused
    unless ``resume`` or ``overwrite``.

    Resuming. ``config.epochs`` is the *total* number of epochs. With ``resume=True`` the run
    continues from ``model_dir/last.npz`` (with ``home`` and no ``model_dir``: the latest run's):
    its weights, momentum buffers, random-generator state and history; the hyperparameters are the
    checkpoint's except ``epochs`` and ``patience``, which come from ``config`` -- a TrainConfig, or a
    dict of only the settings the user chose, any other of which must agree with the checkpoint.
    Resuming with the same total as the interrupted run reproduces it exactly; a different total
    continues correctly but, with ``schedule="cosine"`` (whose curve spans ``epochs``), follows a
    different learning-rate curve from then on. Files a crash left behind ``last.npz`` are repaired
    from it first (``result.repaired``).

    Failures. Ctrl-C raises :class:`TrainingInterrupted` carrying the partial result (completed
    epochs are saved); a run whose weights or cost stop being finite numbers raises
    :class:`TrainingError` and keeps the last finite epoch's files.
    """
    reporter = reporter or Reporter()
    if model_dir is None and home is not None:
        if resume:
            model_dir = latest_run_directory(home)
            if model_dir is None:
                raise TrainingError(f"{Path(home) / RUNS}: no run to resume here (start one without --resume)")
        else:
            reserved = new_run_directory(home)
            try:
                return train(config, data, model_dir=reserved, home=home, reporter=reporter, plot=plot)
            finally:
                _remove_if_unused(reserved)
    if resume and model_dir is None:
        raise ValueError("resume needs a model directory")
    directory = Path(model_dir) if model_dir is not None else None
    if resume and not _is_dir(directory):  # (and do not create a folder just to say so)
        if directory.exists():  # --model-dir runs/x/best.npz: a file where the run's folder should be
            raise CheckpointError(f"{directory}: is a file, not a directory (--model-dir names the folder of {LAST})")
        raise CheckpointError(f"{directory / LAST}: no such checkpoint file")
    with contextlib.ExitStack() as stack:
        if directory is not None:
            ensure_directory(directory)
            try:
                stack.enter_context(lock_directory(directory))
            except BusyError as exc:
                raise BusyError(f"{exc}, another training is writing its files there; wait for it to "
                                "finish or choose another --model-dir") from None
            remove_stale_temporaries(directory, RUN_FILES)
        return _train(config, data, directory, _home_of(directory, home) if directory else None,
                      resume, overwrite, reporter, plot)


def _train(
    config: TrainConfig | dict[str, Any],
    data: Any,
    directory: Path | None,
    home: Path | None,
    resume: bool,
    overwrite: bool,
    reporter: Reporter,
    plot: bool,
) -> TrainResult:
    """:func:`train` once the model folder (if any) is locked."""
    history: list[dict[str, Any]] = []
    repaired: list[str] = []
    if resume:
        network, meta = load_checkpoint(directory / LAST)
        if "config" not in meta or "rng_state" not in meta or "history" not in meta:
            raise CheckpointError(f"{directory / LAST}: a model file without training state; cannot resume from it")
        try:
            stored = TrainConfig.from_dict(meta["config"])
            stored.validate()
            rng = rng_from_state(meta["rng_state"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{directory / LAST}: bad training state: {exc}") from None
        config = _resumed_config(stored, config, directory / LAST)
        config.validate()
        history = list(meta["history"])
        repaired = _repair(directory, network, meta, config, plot)
        if len(history) >= config.epochs and not repaired:
            raise TrainingError(
                f"{directory / LAST}: already trained for {len(history)} epoch{'' if len(history) == 1 else 's'}; "
                f"pass --epochs N with N > {len(history)} to continue"
            )
    else:
        if isinstance(config, dict):
            config = TrainConfig(**config)
        if directory is not None and (directory / LAST).exists() and not overwrite:
            raise TrainingError(
                f"{directory / LAST}: a previous run is saved here; continue it with --resume, "
                "choose another --model-dir, or pass --overwrite to replace it"
            )
        config.validate()
        if config.seed is None:
            # Record the seed actually used, so even an unseeded run can be repeated.
            config = dataclasses.replace(config, seed=int(np.random.SeedSequence().entropy % 2**63))
        rng = np.random.default_rng(config.seed)
        network = Network(config.sizes, init=config.init, dtype=config.dtype, rng=rng)
        if config.init_from is not None:
            network = _initial_network(config)

    best_epoch, best_val = _best(history)
    stopped_early = False

    def result(**extra: Any) -> TrainResult:
        return TrainResult(
            network=network, config=config, history=history, best_epoch=best_epoch,
            best_validation_accuracy=best_val, stopped_early=stopped_early, model_dir=directory,
            repaired=repaired, **extra,
        )

    try:
        if callable(data):
            data = data()
        if resume and _checksums(data) and meta.get("data_checksums") and meta["data_checksums"] != _checksums(data):
            raise CheckpointError(f"{directory / LAST}: was trained on different MNIST files (checksums differ)")
        stopped_early = _epochs(config, data, network, rng, history, directory, reporter, plot)
    except KeyboardInterrupt:
        best_epoch, best_val = _best(history)
        raise TrainingInterrupted(result(interrupted=True)) from None
    best_epoch, best_val = _best(history)
    if home is not None:
        publish(directory, home)
    done = result(published_to=home)
    reporter.on_end(done)
    return done


def _epochs(
    config: TrainConfig,
    data: Any,
    network: Any,
    rng: np.random.Generator,
    history: list[dict[str, Any]],
    directory: Path | None,
    reporter: Reporter,
    plot: bool,
) -> bool:
    """The epoch loop: trains ``network`` from ``len(history) + 1`` up to ``config.epochs``, appending to
    ``history`` and writing the files after every epoch. Returns whether it stopped early."""
    dtype = np.dtype(config.dtype)
    arrays = _data_arrays(data, dtype)
    train_x, train_labels = arrays["train_images"], arrays["train_labels"]
    n_train, n_in = train_x.shape
    if n_in != config.sizes[0]:
        raise ValueError(f"images have {n_in} pixels but the network's input layer has {config.sizes[0]}")
    train_y = one_hot(train_labels, config.sizes[-1], dtype=dtype)  # precomputed once, gathered per batch
    m = min(config.batch_size, n_train)
    n_batches = -(-n_train // m)
    # Progress is reported every `chunk` mini-batches (about 100 times an epoch), so the
    # Python overhead of the reporter is negligible next to the arithmetic.
    chunk = max(1, n_batches // 100)
    augment_batch = None
    if config.augment != "none":
        from mnist_app.augment import augment_batch

    accuracy_plot = None  # built at the first epoch's end (matplotlib is imported only then)
    start_epoch = len(history) + 1
    best_epoch, best_val = _best(history)
    reporter.on_start(config, start_epoch, n_batches)

    for epoch in range(start_epoch, config.epochs + 1):
        if config.patience is not None and best_epoch is not None and epoch - 1 - best_epoch >= config.patience:
            return True
        reporter.on_epoch_start(epoch)
        eta = learning_rate(config, epoch, history)
        started = time.perf_counter()
        # A diverging run overflows; it is caught below by checking the numbers, so numpy's
        # RuntimeWarnings (several lines each on stderr) would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            source = train_x
            if augment_batch is not None:
                source = np.ascontiguousarray(
                    augment_batch(train_x, rng, kind=config.augment, labels=train_labels), dtype=dtype
                )
            # Without distortions there is no augment time at all (not a scheduler's hiccup).
            augmented = time.perf_counter() if augment_batch is not None else started
            order = rng.permutation(n_train)
            for first in range(0, n_batches, chunk):
                part = order[first * m : (first + chunk) * m]
                # sgd_epoch gathers each mini-batch with np.take straight into preallocated
                # work buffers and runs the vectorised update: no per-example Python loop.
                sgd_epoch(
                    network, source, train_y, eta, m, order=part,
                    cost=config.cost, l2=config.l2, n_train=n_train, momentum=config.momentum,
                )
                reporter.on_batches(epoch, min(first + chunk, n_batches), n_batches)

            trained = time.perf_counter()
            test_pred = network.predict(arrays["test_images"])
            test_correct = int(np.count_nonzero(test_pred == arrays["test_labels"]))
            val_acc, cost = network.evaluate(
                arrays["validation_images"], arrays["validation_labels"], cost=config.cost, l2=config.l2
            )
        finished = time.perf_counter()
        if not (math.isfinite(cost) and _all_finite(network)):
            kept = (
                f"epoch {epoch - 1} is kept in {directory / LAST}" if directory is not None and history
                else "nothing was saved"
            )
            raise TrainingError(
                f"training diverged in epoch {epoch}: the weights or the cost are no longer finite numbers "
                f"(eta {eta:g} is too large for this network and cost; try a smaller --eta); {kept}"
            )
        seconds = finished - started
        timing = {"augment": augmented - started, "sgd": trained - augmented, "evaluate": finished - trained}
        record = dataclasses.asdict(
            EpochRecord(
                epoch=epoch,
                test_accuracy=test_correct / len(test_pred),
                validation_accuracy=val_acc,
                cost=cost,
                seconds=round(seconds, 4),
                eta=eta,
                test_correct=test_correct,
                test_total=len(test_pred),
                timing={part: round(t, 4) for part, t in timing.items()},
            )
        )
        improved = best_val is None or val_acc > best_val
        if improved:
            best_epoch, best_val = epoch, val_acc

        # The history grows inside the deferred block, so an interrupted run's history (and the
        # epoch its message names) is exactly what is saved.
        with _interrupts_deferred():
            history.append(record)
            if directory is not None:
                meta = {
                    "cost": config.cost,
                    "init": config.init,
                    "epoch": epoch,
                    "config": config.to_dict(),
                    "rng_state": rng_state(rng),
                    "history": history,
                    "data_checksums": _checksums(data),
                }
                write_history(directory / HISTORY, config, history)
                if improved:
                    save_checkpoint(directory / BEST, network, meta, momentum=False)  # a model, not a resume point
                if plot:
                    if accuracy_plot is None:
                        from mnist_app.plot import AccuracyPlot

                        accuracy_plot = AccuracyPlot(config.to_dict())
                    accuracy_plot.save(history, directory / PLOT)
                # last.npz last: it is the commit point --resume starts from. A crash before it only
                # repeats this epoch (bit-identically) and never leaves best.npz or history.json behind.
                save_checkpoint(directory / LAST, network, meta)
            reporter.on_epoch_end(record, config)
    return False
