"""``python scripts/numbers_suite.py``: how well whole numbers are read.

Numbers of 2-8 real digits (digits-dev and MNIST test, redrawn with a pen: mnist_app.synth) are
written in a row on paper-like backgrounds -- varied sizes, gaps and baseline; 70% well
separated, 15% with one touching pair, 15% with a broken stroke -- and read as predict.py reads
files. Prints exact-number accuracy per kind and per length, and how often the digit count was
right. ``--out DIR`` keeps the images and numbers.csv. ``--alone`` reads the pool's digits alone
instead (original image, drawn as the suite draws it, and how well the pen path keeps each
shape): where the per-digit errors come from (docs/numbers.md).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, add_suite_options, make_parser, positive_int, run

PROG = "numbers_suite.py"

EXAMPLES = """
  python scripts/numbers_suite.py --digits-dev DIGITS_DEV_DIR --mnist MNIST_DIR
  python scripts/numbers_suite.py --digits-dev DEV --mnist MIRROR --count 100 --out /tmp/numbers
  python scripts/numbers_suite.py --digits-dev DEV --mnist MIRROR --alone   # each pool digit alone
"""


def build_parser():
    parser = make_parser(PROG, "Exact-number accuracy on synthetic photos of written numbers.", EXAMPLES)
    add_suite_options(parser)
    parser.add_argument("--count", type=positive_int, default=1000, help="numbers to make (default 1000)")
    parser.add_argument("--pool", type=positive_int, default=300, help="digits taken from each source (default 300)")
    parser.add_argument("--alone", action="store_true",
                        help="read each pool digit alone (original image, drawn as the suite draws it) instead of numbers")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    import numpy as np

    from mnist_app import synth
    from mnist_app.models import load

    network, _meta, info = load(args.model)
    rng = np.random.default_rng(args.seed)
    pool = synth.digits_dev(args.digits_dev, args.pool, rng) + synth.mnist_test(args.mnist, args.pool, rng)
    if args.alone:
        return _print_pool(synth.evaluate_pool(network, pool, synth.original_inputs(pool, args.digits_dev, args.mnist),
                                               seed=args.seed), info, args)
    with tempfile.TemporaryDirectory(prefix="numbers-suite-") as tmp:
        directory = Path(args.out) if args.out else Path(tmp)
        synth.make_numbers_suite(directory, pool, args.count, args.seed)
        report = synth.evaluate_numbers_suite(network, directory)
    if args.json:
        print(json.dumps({"model": str(info.path), "seed": args.seed, **report}))
        return EXIT_OK
    print(f"model: {info.path}   seed {args.seed}, {report['n']} numbers of 2-8 digits")
    print(f"exact number: {report['exact']:.1%}   digit count right: {report['digit_count_right']:.1%}   "
          f"digits right when the count is: {report['digit_accuracy_when_count_right']:.1%}   "
          f"{report['ms_per_number']:.1f} ms per number (open, prepare, read)")
    print("by kind:   " + "  ".join(f"{k} {v['exact']:.1%} (count right {v['digit_count_right']:.1%}, n={v['n']})"
                                    for k, v in report["by_kind"].items()))
    print("by length: " + "  ".join(f"{k}: {v['exact']:.1%}" for k, v in report["by_length"].items()))
    return EXIT_OK


def _print_pool(report: dict, info, args) -> int:
    if args.json:
        print(json.dumps({"model": str(info.path), "seed": args.seed, **report}))
        return EXIT_OK

    def line(accuracy: dict) -> str:
        return f"{accuracy['all']:.2%} (" + ", ".join(f"{k} {v:.2%}" for k, v in accuracy.items() if k != "all") + ")"

    ink = report["ink_difference"]
    print(f"model: {info.path}   seed {args.seed}, {report['n']} pool digits, each read alone")
    print(f"original image:               {line(report['original'])}")
    print(f"drawn as the suite draws it:  {line(report['redrawn'])}   ({report['renders']} each; "
          f"{report['lost_in_redrawing']} lost, {report['gained_in_redrawing']} gained)")
    print(f"pen path redrawn with the digit's own stroke width: {ink['mean']:.2%} of the ink differs "
          f"({ink['over_5pct']} digits over 5%, {ink['over_10pct']} over 10%)")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
