"""``python scripts/train.py``: train the textbook network (or a better one) on MNIST.

The defaults reproduce Nielsen's chapter-1 run: 784-30-10, 30 epochs, mini-batch 10, eta 3.0,
quadratic cost. Every epoch prints one line; ``--model-dir`` receives ``last.npz``,
``best.npz``, ``history.json`` and ``accuracy.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_app.cli.common import EXIT_OK, add_data_options, load_data, make_parser, positive_int, run
from mnist_app.errors import CheckpointError, MnistAppError
from mnist_app.fileio import ensure_directory

PROG = "train.py"

EXAMPLES = """
  python scripts/train.py                                  # the textbook run: 784-30-10, 30 epochs, ~95%
  python scripts/train.py --seed 1 --epochs 5 --quiet      # short, repeatable run
  python scripts/train.py --init scaled --cost cross-entropy --eta 0.5   # the book's improvements
  python scripts/train.py --hidden 100 --cost cross-entropy --l2 5 --eta 0.5 --epochs 60  # network2.py
  python scripts/train.py --hidden 100 30                  # two hidden layers: 784-100-30-10
  python scripts/train.py --preset best --model-dir models/best-run        # 800 hidden + distortions
  python scripts/train.py --epochs 40 --resume             # continue models/last.npz up to 40 epochs
  python scripts/train.py --seed 1 --json > summary.json   # machine-readable summary on stdout

presets (explicit flags override them):
{presets}
"""

# Flags that map one-to-one onto TrainConfig fields (dest -> field).
CONFIG_FLAGS = (
    "epochs", "batch_size", "eta", "cost", "l2", "init", "seed", "dtype",
    "momentum", "schedule", "augment", "patience",
)


def _preset_help() -> str:
    from mnist_app.train import PRESETS

    lines = []
    for name, values in PRESETS.items():
        settings = ", ".join(f"{k}={'-'.join(map(str, v)) if k == 'sizes' else v}" for k, v in values.items())
        lines.append(f"  {name:<9} {settings or 'the textbook defaults'}")
    return "\n".join(lines)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _momentum(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _augment_kind(text: str) -> str:
    if text == "none":
        return text
    from mnist_app.augment import parse_kind

    try:
        parse_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    from mnist_app.train import AUGMENTS, COSTS, DTYPES, INITS, PRESETS, SCHEDULES

    parser = make_parser(
        PROG,
        "Train a sigmoid network on MNIST with mini-batch stochastic gradient descent, printing test and "
        "validation accuracy after every epoch and saving checkpoints, history.json and accuracy.png.",
        EXAMPLES.format(presets=_preset_help()),
    )
    # Defaults are None so that we can tell which flags were given (presets and --resume
    # fill in the rest); the textbook values are in TrainConfig and shown in the help.
    net = parser.add_argument_group("network")
    net.add_argument("--hidden", type=positive_int, nargs="+", action="append", metavar="N",
                     help="hidden layer size(s); several values or a repeated flag give several hidden "
                          "layers (default: 30)")
    net.add_argument("--init", choices=INITS, help="weight initialisation: N(0,1) or N(0,1/n_in) (default: textbook)")
    net.add_argument("--dtype", choices=DTYPES, help="floating point type (default: float32)")
    sgd = parser.add_argument_group("training")
    sgd.add_argument("--preset", choices=tuple(PRESETS), help="start from a named recipe (see below)")
    sgd.add_argument("--epochs", type=positive_int, help="total number of epochs (default: 30)")
    sgd.add_argument("--batch-size", type=positive_int, metavar="M", help="mini-batch size (default: 10)")
    sgd.add_argument("--eta", type=_positive_float, help="learning rate (default: 3.0)")
    sgd.add_argument("--cost", choices=COSTS, help="cost function (default: quadratic)")
    sgd.add_argument("--l2", type=_nonnegative_float, metavar="LAMBDA",
                     help="L2 regularisation lambda, as in the book's network2 (default: 0)")
    sgd.add_argument("--momentum", type=_momentum, metavar="MU", help="momentum coefficient (default: 0 = plain SGD)")
    sgd.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default: none)")
    sgd.add_argument("--augment", type=_augment_kind, metavar="KIND",
                     help=f"distort the training images afresh every epoch: {', '.join(AUGMENTS)}, or a "
                     "'+'-joined combination of affine, elastic, thickness, styles (default: none)")
    sgd.add_argument("--patience", type=positive_int, metavar="K",
                     help="stop early after K epochs without a better validation accuracy")
    sgd.add_argument("--seed", type=int, help="random seed: same seed, same run (default: fresh, recorded)")
    out = parser.add_argument_group("files and output")
    out.add_argument("--model-dir", default="models", metavar="DIR",
                     help="where last.npz, best.npz, history.json and accuracy.png go (default: models/)")
    out.add_argument("--resume", action="store_true",
                     help="continue from DIR/last.npz up to --epochs in total (same hyperparameters)")
    out.add_argument("--overwrite", action="store_true",
                     help="start afresh even if DIR already holds a run (its files are replaced)")
    out.add_argument("--json", action="store_true",
                     help="print a JSON summary on stdout at the end (epoch lines then go to stderr)")
    add_data_options(out)
    return parser


def _sizes(args: argparse.Namespace) -> tuple[int, ...]:
    """Layer sizes from --hidden, given as `--hidden 100 30` or repeated `--hidden 100 --hidden 30`."""
    return (784, *(n for group in args.hidden for n in group), 10)


def config_from_args(args: argparse.Namespace):
    """TrainConfig from the preset (or textbook defaults) with the explicit flags on top."""
    from mnist_app.train import TrainConfig

    overrides: dict[str, Any] = {name: getattr(args, name) for name in CONFIG_FLAGS if getattr(args, name) is not None}
    if args.hidden:
        overrides["sizes"] = _sizes(args)
    if args.preset:
        return TrainConfig.from_preset(args.preset, **overrides)
    return TrainConfig(**overrides)


class ConsoleReporter:
    """Prints one line per epoch and, on a terminal, a tqdm bar over the mini-batches (stderr)."""

    def __init__(self, stream, *, progress: bool) -> None:
        self.stream = stream
        self.progress = progress
        self.bar = None
        self.total_epochs = 0
        self.last_saved: int | None = None  # the last epoch this run completed and saved

    def on_start(self, config, start_epoch: int, batches_per_epoch: int) -> None:
        self.total_epochs = config.epochs
        if start_epoch > 1:
            print(f"Resuming after epoch {start_epoch - 1} of {config.epochs}", file=self.stream, flush=True)

    def on_epoch_start(self, epoch: int) -> None:
        if self.progress:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=f"Epoch {epoch}/{self.total_epochs}", unit="batch",
                            leave=False, file=sys.stderr, dynamic_ncols=True)

    def on_batches(self, epoch: int, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def on_epoch_end(self, record: dict, config) -> None:
        from mnist_app.train import format_epoch_line

        self.close_bar()
        self.last_saved = record["epoch"]  # called after the epoch's files are written
        print(format_epoch_line(record, config.epochs), file=self.stream, flush=True)

    def on_end(self, result) -> None:
        self.close_bar()
        if result.stopped_early:
            print(f"Stopped early: no better validation accuracy for {result.config.patience} epochs",
                  file=self.stream, flush=True)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _explicit_conflicts(args: argparse.Namespace, stored: dict[str, Any]) -> list[str]:
    """Flags given together with --resume that disagree with the checkpoint's hyperparameters."""
    conflicts = []
    for name in CONFIG_FLAGS:
        value = getattr(args, name)
        if name in ("epochs", "patience") or value is None:
            continue
        if stored.get(name) != value:
            conflicts.append(f"--{name.replace('_', '-')} {value} (checkpoint: {stored.get(name)})")
    if args.hidden:
        sizes = list(_sizes(args))
        if stored.get("sizes") != sizes:
            conflicts.append(f"--hidden {' '.join(map(str, sizes[1:-1]))} (checkpoint: {stored.get('sizes')})")
    return conflicts


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_app.checkpoint import read_meta
    from mnist_app.train import LAST, TrainConfig, train

    model_dir = Path(args.model_dir)
    if args.resume:
        if args.preset:
            parser.error("--preset cannot be combined with --resume (the checkpoint holds the settings)")
        meta = read_meta(model_dir / LAST)
        stored = meta.get("config")
        if not isinstance(stored, dict):
            raise CheckpointError(f"{model_dir / LAST}: holds no training configuration; cannot resume from it")
        conflicts = _explicit_conflicts(args, stored)
        if conflicts:
            raise MnistAppError(
                f"{model_dir / LAST}: --resume continues with the checkpoint's settings, but "
                f"{'; '.join(conflicts)} differ (drop those flags or start a new --model-dir)"
            )
        base = TrainConfig.from_dict(stored)
        config = dataclasses.replace(
            base,
            epochs=args.epochs if args.epochs is not None else base.epochs,
            patience=args.patience if args.patience is not None else base.patience,
        )
        if meta.get("epoch", 0) >= config.epochs:
            raise MnistAppError(
                f"{model_dir / LAST}: already trained for {meta.get('epoch')} epochs; "
                f"pass --epochs N with N > {meta.get('epoch')} to continue"
            )
    else:
        if (model_dir / LAST).exists() and not args.overwrite:
            raise MnistAppError(
                f"{model_dir / LAST}: a previous run is saved here; continue it with --resume, "
                "choose another --model-dir, or pass --overwrite to replace it"
            )
        try:
            config = config_from_args(args)
            config.validate()
        except ValueError as exc:
            parser.error(str(exc))

    stream = sys.stderr if args.json else sys.stdout
    progress = not args.quiet and sys.stderr.isatty()
    ensure_directory(model_dir)  # before any download: a bad --model-dir fails at once
    data = load_data(args)
    reporter = ConsoleReporter(stream, progress=progress)
    try:
        result = train(config, data, model_dir=model_dir, resume=args.resume, reporter=reporter)
    except KeyboardInterrupt:
        reporter.close_bar()
        # Name only an epoch of *this* run (or of the run it resumed), never an older run's file.
        saved = reporter.last_saved or (meta.get("epoch") if args.resume else None)
        if saved:
            print(f"{PROG}: interrupted; epoch {saved} is saved in {model_dir / LAST} "
                  f"(continue with --resume --epochs {config.epochs})", file=sys.stderr)
        raise
    if args.json:
        print(json.dumps(result.summary(), indent=1))
    else:
        summary = result.summary()
        if summary["best_epoch"]:
            print(
                f"Best validation {100 * summary['best_validation_accuracy']:.2f}% at epoch {summary['best_epoch']} "
                f"(test {100 * summary['best_test_accuracy']:.2f}%); {summary['total_seconds']:.1f} s of training; "
                f"saved in {model_dir}/",
                file=stream,
            )
        parts = summary["seconds_by_part"]
        distorting = f", {parts['augment']:.1f} s distorting images" if config.augment != "none" else ""
        print(f"Time: {parts['sgd']:.1f} s mini-batch SGD{distorting}, {parts['evaluate']:.1f} s evaluation",
              file=stream)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
