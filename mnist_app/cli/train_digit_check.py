"""``python scripts/train_digit_check.py``: train the not-a-digit check (mnist_app.digit_check).

Draws synthetic letters, digits, scribbles and noise (mnist_app.strokes, fixed seed), reads them
through the real preprocessing, and trains a 784-30-1 network to tell MNIST and the synthetic
digits from the rest (mnist_app.unsure_lab.train_digit_check). Writes a checkpoint; the shipped
one is ``mnist_app/shipped/digit_check.npz``. Afterwards run scripts/measure_unsure.py and, if the
scores moved, restate the thresholds in mnist_app/unsure.py (docs/unsure.md says how they were
chosen). About 3 minutes on the 2-core development machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, add_data_options, load_data, make_parser, positive_int, run

PROG = "train_digit_check.py"

EXAMPLES = """
  python scripts/train_digit_check.py --data-dir ../shared/mnist          # -> the shipped check
  python scripts/train_digit_check.py --out /tmp/check.npz --seed 2       # another draw, elsewhere
"""


def build_parser():
    from mnist_app.digit_check import CHECK_MODEL

    parser = make_parser(PROG, "Train the not-a-digit check used by the unsure rule.", EXAMPLES)
    add_data_options(parser)
    parser.add_argument("--out", metavar="PATH", default=str(CHECK_MODEL), help=f"checkpoint to write (default {CHECK_MODEL})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic images and the training (default 1)")
    parser.add_argument("--rounds", type=positive_int, default=80, help="rounds of synthetic glyphs (default 80, ~8,400 images)")
    parser.add_argument("--epochs", type=positive_int, default=20, help="training epochs (default 20)")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.checkpoint import save_checkpoint
    from mnist_app.unsure_lab import synthetic_set, train_digit_check

    mnist = load_data(args)
    start = time.perf_counter()
    synthetic = synthetic_set(args.seed, args.rounds)
    if not args.quiet:
        print(f"{len(synthetic.X)} synthetic images drawn and preprocessed ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
    progress = None if args.quiet else (lambda e, n: print(f"epoch {e}/{n}", file=sys.stderr))
    network, meta = train_digit_check(mnist, synthetic, seed=args.seed, epochs=args.epochs, progress=progress)
    meta["training"]["rounds"] = args.rounds
    meta["training"]["command"] = (f"python scripts/train_digit_check.py --seed {args.seed} --rounds {args.rounds} "
                                   f"--epochs {args.epochs}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out, network, meta, momentum=False)
    print(f"saved {args.out} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
