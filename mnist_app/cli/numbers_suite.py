"""``python scripts/numbers_suite.py``: how well whole numbers are read.

Numbers of 2-8 real digits (digits-dev and MNIST test, redrawn with a pen: mnist_app.synth) are
written in a row on paper-like backgrounds -- varied sizes, gaps and baseline; 70% well
separated, 15% with one touching pair, 15% with a broken stroke -- and read as predict.py reads
files. Prints exact-number accuracy per kind and per length, and how often the digit count was
right. ``--out DIR`` keeps the images and numbers.csv.
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
"""


def build_parser():
    parser = make_parser(PROG, "Exact-number accuracy on synthetic photos of written numbers.", EXAMPLES)
    add_suite_options(parser)
    parser.add_argument("--count", type=positive_int, default=1000, help="numbers to make (default 1000)")
    parser.add_argument("--pool", type=positive_int, default=300, help="digits taken from each source (default 300)")
    return parser


def evaluate_numbers(network, directory: Path) -> dict:
    """Exact-number accuracy of a numbers suite folder (numbers.csv as make_numbers_suite writes)."""
    import csv

    from mnist_app.predict import classify_files

    with (directory / "numbers.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    preds = classify_files(network, [directory / r["file"] for r in rows])
    by: dict[str, dict[str, list[int]]] = {"kind": {}, "length": {}}
    count_right = digits_right = digits_total = 0
    for row, pred in zip(rows, preds):
        read = (pred.number if pred.number is not None else str(pred.digit)) if pred.ok else ""
        exact = int(read == row["number"])
        counted = int(len(read) == len(row["number"]))
        for key, value in (("kind", row["kind"]), ("length", str(len(row["number"])))):
            cell = by[key].setdefault(value, [0, 0, 0])
            cell[0] += exact
            cell[1] += 1
            cell[2] += counted
        if counted:
            count_right += 1
            digits_right += sum(a == b for a, b in zip(read, row["number"]))
            digits_total += len(read)
    n = len(rows)
    return {
        "n": n,
        "exact": sum(c[0] for c in by["kind"].values()) / n,
        "digit_count_right": count_right / n,
        "digit_accuracy_when_count_right": digits_right / digits_total if digits_total else None,
        "by_kind": {k: {"exact": c[0] / c[1], "digit_count_right": c[2] / c[1], "n": c[1]}
                    for k, c in sorted(by["kind"].items())},
        "by_length": {k: {"exact": c[0] / c[1], "digit_count_right": c[2] / c[1], "n": c[1]}
                      for k, c in sorted(by["length"].items())},
    }


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    import numpy as np

    from mnist_app import synth
    from mnist_app.models import load

    network, _meta, info = load(args.model)
    rng = np.random.default_rng(args.seed)
    pool = synth.digits_dev(args.digits_dev, args.pool, rng) + synth.mnist_test(args.mnist, args.pool, rng)
    with tempfile.TemporaryDirectory(prefix="numbers-suite-") as tmp:
        directory = Path(args.out) if args.out else Path(tmp)
        synth.make_numbers_suite(directory, pool, args.count, args.seed)
        report = evaluate_numbers(network, directory)
    if args.json:
        print(json.dumps({"model": str(info.path), "seed": args.seed, **report}))
        return EXIT_OK
    print(f"model: {info.path}   seed {args.seed}, {report['n']} numbers of 2-8 digits")
    print(f"exact number: {report['exact']:.1%}   digit count right: {report['digit_count_right']:.1%}   "
          f"digits right when the count is: {report['digit_accuracy_when_count_right']:.1%}")
    print("by kind:   " + "  ".join(f"{k} {v['exact']:.1%} (count right {v['digit_count_right']:.1%}, n={v['n']})"
                                    for k, v in report["by_kind"].items()))
    print("by length: " + "  ".join(f"{k}: {v['exact']:.1%}" for k, v in report["by_length"].items()))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
