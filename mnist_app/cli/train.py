"""``python scripts/train.py``: train the textbook network (or a better one) on MNIST.

The defaults reproduce Nielsen's chapter-1 run: 784-30-10, 30 epochs, mini-batch 10, eta 3.0,
quadratic cost, seed 1. Every epoch prints one line. This module only parses, calls
:func:`mnist_app.train.train` and prints; where files go, resuming and all checks are there
(see docs/cli-train.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from mnist_app.cli.common import (
    EXIT_OK,
    add_data_options,
    load_data,
    make_parser,
    nonempty_path,
    program_name,
    run,
    shell_word,
    sibling_command,
)

PROG = "train.py"

EXAMPLES = """
  python scripts/train.py                                  # the textbook run: 784-30-10, 30 epochs, ~95%
  python scripts/train.py --epochs 5 --quiet               # short run (seed 1 unless --seed: repeatable)
  python scripts/train.py --seed random                    # a fresh random draw (recorded in history.json)
  python scripts/train.py --init scaled --cost cross-entropy --eta 0.5   # the book's improvements
  python scripts/train.py --hidden 100 --cost cross-entropy --l2 5 --eta 0.5 --epochs 60  # network2.py
  python scripts/train.py --hidden 100 30                  # two hidden layers: 784-100-30-10
  python scripts/train.py --preset best --model-dir runs/best        # 800 hidden + distortions
  python scripts/train.py --resume --epochs 40             # continue the latest run up to 40 epochs
  python scripts/train.py --resume --model-dir runs/best   # continue the run in runs/best
  python scripts/train.py --json > summary.json            # machine-readable summary on stdout

Without --model-dir every run gets its own folder, models/runs/001, 002, ..., and when it
completes its files are copied to models/ (models/best.npz is what predict.py and evaluate.py
use by default).

presets (explicit flags override them):
{presets}
"""

#: Home of the numbered runs; a completed run's best model is copied to HOME/best.npz.
HOME = "models"

# Flags that set one TrainConfig field each: (field, metavar, help). The flag's type, its choices and
# the "(default: ...)" come from TrainConfig and its constraint table, never typed here.
NETWORK_FLAGS = (
    ("init", None, "weight initialisation: N(0,1) or N(0,1/n_in)"),
    ("dtype", None, "floating point type"),
    ("init_from", "NAME|PATH", "start from this model's weights instead of random ones (same layer sizes): "
     "shipped, best, personal, last (as for predict) or a model file"),
)
TRAINING_FLAGS = (
    ("epochs", "N", "total number of epochs"),
    ("batch_size", "M", "mini-batch size"),
    ("eta", "ETA", "learning rate"),
    ("cost", None, "cost function"),
    ("l2", "LAMBDA", "L2 regularisation lambda, as in the book's network2"),
    ("momentum", "MU", "momentum coefficient (0 = plain SGD)"),
    ("schedule", None, "learning-rate schedule"),
    ("augment", "KIND", "distort the training images afresh every epoch: {augment_kinds}"),
    ("patience", "K", "stop early after K epochs without a better validation accuracy"),
    ("seed", "S", "random seed (same seed, same run); 'random' draws a fresh one, recorded in history.json"),
)
#: How a default of None reads in --help.
NONE_MEANS = {"patience": "never", "init_from": "random weights"}


def _preset_help() -> str:
    from mnist_app.train import PRESETS

    lines, width = [], max(map(len, PRESETS))
    for name, values in PRESETS.items():
        settings = ", ".join(f"{k}={'-'.join(map(str, v)) if k == 'sizes' else v}" for k, v in values.items())
        lines.append(f"  {name:<{width}} {settings or 'the textbook defaults'}")
    return "\n".join(lines)


def _flag_type(constraints: list) -> Any:
    """argparse type: the value the text spells under ``constraints`` (a usage error, exit 2, if none)."""
    from mnist_app.constraints import parse

    def convert(text: str) -> Any:
        try:
            return parse(text, constraints)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _add_config_flags(group: argparse._ArgumentGroup, flags: tuple) -> None:
    from mnist_app.constraints import Options
    from mnist_app.train import AUGMENT_KINDS, PARAMETER_CONSTRAINTS, TrainConfig

    defaults = TrainConfig()
    for name, metavar, text in flags:
        constraints = PARAMETER_CONSTRAINTS[name]
        default = getattr(defaults, name)
        shown = NONE_MEANS.get(name, "None") if default is None else default
        options = [c for c in constraints if isinstance(c, Options)]
        kind = {"choices": options[0].options} if options else {"type": _flag_type(constraints), "metavar": metavar}
        # A flag not given leaves no attribute (SUPPRESS), so we can tell which flags were given (presets
        # and --resume fill in the rest); the real defaults are TrainConfig's and only shown here.
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, default=argparse.SUPPRESS,
                           help=f"{text.format(augment_kinds=AUGMENT_KINDS)} (default: {shown})", **kind)


def build_parser() -> argparse.ArgumentParser:
    from mnist_app.train import PARAMETER_CONSTRAINTS, PRESETS, TrainConfig

    parser = make_parser(
        PROG,
        "Train a sigmoid network on MNIST with mini-batch stochastic gradient descent, printing test and "
        "validation accuracy after every epoch and saving checkpoints, history.json and accuracy.png.",
        EXAMPLES.format(presets=_preset_help()),
    )
    hidden_default = " ".join(map(str, TrainConfig().sizes[1:-1]))
    net = parser.add_argument_group("network")
    net.add_argument("--hidden", type=_flag_type([PARAMETER_CONSTRAINTS["sizes"][0].layer]), nargs="+", action="append",
                     metavar="N", help="hidden layer size(s); several values or a repeated flag give several "
                     f"hidden layers (default: {hidden_default})")
    _add_config_flags(net, NETWORK_FLAGS)
    sgd = parser.add_argument_group("training")
    sgd.add_argument("--preset", choices=tuple(PRESETS), help="start from a named recipe (see below)")
    _add_config_flags(sgd, TRAINING_FLAGS)
    out = parser.add_argument_group("files and output")
    out.add_argument("--model-dir", metavar="DIR", type=nonempty_path,
                     help="where last.npz, best.npz, history.json and accuracy.png go (default: a new "
                     f"numbered folder {HOME}/runs/NNN; its best model is copied to {HOME}/best.npz when done)")
    out.add_argument("--resume", action="store_true",
                     help="continue from DIR/last.npz (default: the latest run in "
                     f"{HOME}/runs) up to --epochs in total, with the checkpoint's settings")
    out.add_argument("--overwrite", action="store_true",
                     help="start afresh even if --model-dir DIR already holds a run (its files are replaced)")
    out.add_argument("--json", action="store_true",
                     help="print a JSON summary on stdout at the end, also when interrupted "
                     "(epoch lines then go to stderr)")
    add_data_options(out)
    return parser


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields the user set explicitly."""
    from mnist_app.train import TrainConfig

    settings = {name: getattr(args, name) for name, _, _ in NETWORK_FLAGS + TRAINING_FLAGS if hasattr(args, name)}
    if args.hidden:
        # `--hidden 100 30` or `--hidden 100 --hidden 30`; input and output layers stay MNIST's.
        first, *_, last = TrainConfig().sizes
        settings["sizes"] = (first, *(n for group in args.hidden for n in group), last)
    return settings


def config_from_args(args: argparse.Namespace):
    """TrainConfig from the preset (or textbook defaults) with the explicit flags on top."""
    from mnist_app.train import TrainConfig

    settings = settings_from_args(args)
    if args.preset:
        return TrainConfig.from_preset(args.preset, **settings)
    return TrainConfig(**settings)


class ConsoleReporter:
    """Prints one line per epoch and, on a terminal, a tqdm bar over the mini-batches (stderr);
    a run expected to take more than a minute also gets a bar over the epochs, with the overall ETA."""

    #: Runs expected to take longer than this (seconds) show the bar over epochs.
    LONG_RUN = 60.0

    def __init__(self, stream, *, progress: bool) -> None:
        self.stream = stream
        self.progress = progress
        self.bar = None
        self.overall = None
        self.total_epochs = 0
        self.start_epoch = 1
        self.started = 0.0
        self.last_saved: int | None = None  # the last epoch this run completed and saved

    def on_start(self, config, start_epoch: int, batches_per_epoch: int) -> None:
        self.total_epochs = config.epochs
        self.start_epoch = start_epoch
        self.started = time.perf_counter()
        if start_epoch > 1:
            self._print(f"Resuming after epoch {start_epoch - 1} of {config.epochs}")

    def on_epoch_start(self, epoch: int) -> None:
        if self.progress:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=f"Epoch {epoch}/{self.total_epochs}", unit="batch",
                            leave=False, file=sys.stderr, dynamic_ncols=True, position=1 if self.overall else 0)

    def on_batches(self, epoch: int, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def on_epoch_end(self, record: dict, config) -> None:
        from mnist_app.train import format_epoch_line

        self.close_bar(self.bar)
        self.bar = None
        self.last_saved = record["epoch"]  # called after the epoch's files are written
        self._print(format_epoch_line(record, config.epochs))
        if self.overall is not None:
            self.overall.update(1)
        elif self.progress and record["epoch"] < config.epochs:
            done = record["epoch"] - self.start_epoch + 1
            per_epoch = (time.perf_counter() - self.started) / done
            if per_epoch * (config.epochs - self.start_epoch + 1) > self.LONG_RUN:
                from tqdm import tqdm

                self.overall = tqdm(total=config.epochs, initial=record["epoch"], desc="Training", unit="epoch",
                                    file=sys.stderr, dynamic_ncols=True, position=0, leave=False)

    def on_end(self, result) -> None:
        self.close()
        if result.stopped_early:
            self._print(f"Stopped early: no better validation accuracy for {result.config.patience} epochs")

    def close(self) -> None:
        for bar in (self.bar, self.overall):
            self.close_bar(bar)
        self.bar = self.overall = None

    @staticmethod
    def close_bar(bar) -> None:
        if bar is not None:
            bar.close()

    def _print(self, line: str) -> None:
        if self.overall is not None:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)  # above the bars, which are redrawn below it
            self.stream.flush()
        else:
            print(line, file=self.stream, flush=True)


def _print_summary(result, stream) -> None:
    summary = result.summary()
    for name in result.repaired:
        print(f"Repaired {result.model_dir / name} from last.npz (a crash had left it behind)", file=stream)
    if summary["best_epoch"]:
        print(
            f"Best validation {100 * summary['best_validation_accuracy']:.2f}% at epoch {summary['best_epoch']} "
            f"(test {100 * summary['best_test_accuracy']:.2f}%); {summary['total_seconds']:.1f} s of training; "
            f"saved in {result.model_dir}/",
            file=stream,
        )
    parts = summary["seconds_by_part"]
    distorting = f", {parts['augment']:.1f} s distorting images" if result.config.augment != "none" else ""
    print(f"Time: {parts['sgd']:.1f} s mini-batch SGD{distorting}, {parts['evaluate']:.1f} s evaluation", file=stream)
    if summary["best_model"]:
        published = f" (also copied to {result.published_to / 'best.npz'})" if result.published_to else ""
        print(f"Next: {sibling_command(PROG, 'predict')} YOUR_DIGIT.png --model {shell_word(summary['best_model'])}"
              f"{published}", file=stream)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_app.train import TrainingInterrupted, train

    if args.resume:
        if args.preset:
            parser.error("--preset cannot be combined with --resume (the checkpoint holds the settings)")
        if args.overwrite:  # --resume went on and --overwrite was silently ignored
            parser.error("--overwrite cannot be combined with --resume (one continues the run, the other replaces it)")
        config = settings_from_args(args)  # checked against the checkpoint by train()
    else:
        try:
            config = config_from_args(args)
            config.validate()
        except ValueError as exc:
            parser.error(str(exc))

    stream = sys.stderr if args.json else sys.stdout
    reporter = ConsoleReporter(stream, progress=not args.quiet and sys.stderr.isatty())
    try:
        result = train(config, lambda: load_data(args), model_dir=args.model_dir, home=HOME,
                       resume=args.resume, overwrite=args.overwrite, reporter=reporter)
    except TrainingInterrupted as exc:
        reporter.close()
        partial = exc.result
        if args.json:
            print(json.dumps(partial.summary(), indent=1))
        # Name only an epoch of *this* run (or of the run it resumed), never an older run's file.
        if partial.history:
            print(f"{program_name(PROG)}: interrupted; epoch {len(partial.history)} is saved in "
                  f"{partial.model_dir / 'last.npz'} (continue with --resume --model-dir {shell_word(partial.model_dir)} "
                  f"--epochs {partial.config.epochs})", file=sys.stderr)
        raise
    finally:
        reporter.close()
    if args.json:
        print(json.dumps(result.summary(), indent=1))
    else:
        _print_summary(result, stream)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
