"""``python scripts/train_digit_check.py``: train the not-a-digit check (mnist_app.digit_check).

Draws synthetic letters, digits, scribbles and noise (mnist_app.strokes, fixed seed), reads them
through the real preprocessing, and trains a 784-30-1 network to tell MNIST and the synthetic
digits from the rest (mnist_app.unsure_lab.train_digit_check). Writes a checkpoint; the shipped
one is ``mnist_app/shipped/digit_check.npz``. Afterwards rerun scripts/measure_unsure.py
--write-thresholds: the thresholds belong to the check (docs/unsure.md says how they are chosen).
About 8 minutes per seed (40 epochs) on the busy 2-core development machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, add_data_options, load_data, make_parser, nonempty_path, positive_int, run

PROG = "train_digit_check.py"

EXAMPLES = """
  python scripts/train_digit_check.py --data-dir MNIST_DIR          # -> the shipped check
  python scripts/train_digit_check.py --out /tmp/check.npz --seeds 7      # one check, another draw
  # the same as the first, on two cores: one seed per process, then merged
  python scripts/train_digit_check.py --data-dir MNIST_DIR --seeds 1 --out s1.npz &   # ... 3, 4
  python scripts/train_digit_check.py --merge s1.npz s3.npz s4.npz
"""


def build_parser():
    from mnist_app.digit_check import CHECK_MODEL
    from mnist_app.unsure_lab import AUGMENT

    parser = make_parser(PROG, "Train the not-a-digit check used by the unsure rule.", EXAMPLES)
    add_data_options(parser)
    parser.add_argument("--out", metavar="PATH", type=nonempty_path, default=str(CHECK_MODEL), help=f"checkpoint to write (default {CHECK_MODEL})")
    parser.add_argument("--seeds", type=_seeds, default=(1, 3, 4),
                        help="one check per seed (synthetic images and training), merged into one network "
                        "(default 1,3,4; measure_unsure.py draws its synthetic set from seed 2)")
    parser.add_argument("--rounds", type=positive_int, default=80, help="rounds of synthetic glyphs (default 80, ~8,400 images)")
    parser.add_argument("--epochs", type=positive_int, default=40, help="training epochs (default 40)")
    parser.add_argument("--hidden", type=positive_int, default=30, help="hidden neurons per seed's check (default 30)")
    parser.add_argument("--augment", default=AUGMENT, type=_augment_kind, metavar="KIND",
                        help=f"distortions of the MNIST digits, redrawn every epoch (mnist_app.augment; default {AUGMENT})")
    parser.add_argument("--merge", metavar="CHECK", type=nonempty_path, nargs="+",
                        help="train nothing: merge these checks (each trained with one --seeds) into --out")
    return parser


def _augment_kind(text: str) -> str:
    """argparse type: a kind mnist_app.augment knows (checked before MNIST is loaded)."""
    from mnist_app.augment import parse_kind

    try:
        parse_kind(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got {text!r}")
    return seeds


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.checkpoint import save_checkpoint
    from mnist_app.merge import merge_networks
    from mnist_app.unsure_lab import synthetic_set, train_digit_check

    if args.merge:
        return _merge(args.merge, args.out)
    mnist = load_data(args)
    start = time.perf_counter()
    networks, metas = [], []
    for seed in args.seeds:
        synthetic = synthetic_set(seed, args.rounds)
        if not args.quiet:
            print(f"seed {seed}: {len(synthetic.X)} synthetic images drawn and preprocessed "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        progress = None if args.quiet else (lambda e, n: print(f"epoch {e}/{n}", file=sys.stderr))
        network, meta = train_digit_check(mnist, synthetic, seed=seed, epochs=args.epochs, hidden=args.hidden,
                                          augment=args.augment, progress=progress)
        networks.append(network)
        metas.append(meta["training"])
    seeds = ",".join(str(s) for s in args.seeds)
    meta = {"purpose": meta["purpose"], "members": metas, "merged": "mean log-odds of one check per seed",
            "command": f"python scripts/train_digit_check.py --seeds {seeds} --rounds {args.rounds} --epochs {args.epochs} "
                       f"--hidden {args.hidden} --augment {args.augment}"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out, merge_networks(networks) if len(networks) > 1 else networks[0], meta, momentum=False)
    print(f"saved {args.out} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return EXIT_OK


def _merge(paths: Sequence[str], out: str) -> int:
    """One network from checks trained separately (the same result as training their seeds in one run)."""
    from mnist_app.checkpoint import load_checkpoint, save_checkpoint
    from mnist_app.digit_check import N_INPUTS
    from mnist_app.errors import CheckpointError
    from mnist_app.merge import merge_networks

    networks, members = [], []
    for path in paths:
        network, meta = load_checkpoint(path)
        if len(network.sizes) != 3 or network.sizes[0] != N_INPUTS or network.sizes[-1] != 1:
            raise CheckpointError(f"{path}: not a digit check network (layer sizes {list(network.sizes)})")
        networks.append(network)
        members.extend(meta.get("members", [meta.get("training", {})]))
    seeds = ",".join(str(m.get("seed")) for m in members)
    meta = {"purpose": "not-a-digit check for mnist_app.unsure (output 1 = not a digit)", "members": members,
            "merged": "mean log-odds of one check per seed",
            "command": f"python scripts/train_digit_check.py --seeds {seeds} (or one process per seed, then --merge)"}
    save_checkpoint(out, merge_networks(networks), meta, momentum=False)
    print(f"saved {out} (merged {len(networks)} checks)", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
