"""``python scripts/photo_suite.py``: the shipped model's accuracy per photo condition.

Real digits (digits-dev and MNIST test) are redrawn as synthetic phone photos -- fine pen,
marker, grain, JPEG, uneven light, squared and ruled paper, the sheet's edge, a table margin,
faint pencil, tiny grey crops (mnist_app.synth) -- with a fixed seed, then read exactly as
predict.py reads files. Prints one line per condition (accuracy on each source and the gap to
the clean images). ``--out DIR`` keeps the images and their manifest.csv (then
``scripts/evaluate.py --images DIR`` reads them again, broken down by condition).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_FAILURE, EXIT_OK, add_suite_options, make_parser, positive_int, run

PROG = "photo_suite.py"

EXAMPLES = """
  python scripts/photo_suite.py --digits-dev DIGITS_DEV_DIR --mnist MNIST_DIR
  python scripts/photo_suite.py --digits-dev DEV --mnist MIRROR --n 20 --out /tmp/photos  # keep them
  python scripts/photo_suite.py --digits-dev DEV --mnist MIRROR --json --model models/last.npz
  python scripts/photo_suite.py --digits-dev DEV --mnist MIRROR --conditions clean,marker,fine_grid_big
"""


def build_parser():
    from mnist_app.synth import CONDITIONS

    conditions = "; ".join(f"{c.name}: {c.description}" for c in CONDITIONS)
    parser = make_parser(PROG, "Accuracy per synthetic photo condition. Conditions: " + conditions, EXAMPLES)
    add_suite_options(parser)
    parser.add_argument("--n", type=positive_int, default=150, help="digits taken from each source (default 150)")
    parser.add_argument("--conditions", type=_conditions, metavar="NAME[,NAME...]",
                        help="only these conditions (comma-separated; default all); each image is the same "
                        "as in the whole suite")
    return parser


def _conditions(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated condition names, each one of synth.CONDITION_NAMES."""
    import argparse

    from mnist_app.synth import CONDITION_NAMES

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CONDITION_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown condition {', '.join(unknown) or repr(text)} "
                                         f"(known: {', '.join(CONDITION_NAMES)})")
    return names


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    import numpy as np

    from mnist_app import synth
    from mnist_app.models import load

    network, _meta, info = load(args.model)
    model_path = info.path
    rng = np.random.default_rng(args.seed)
    sources = synth.digits_dev(args.digits_dev, args.n, rng) + synth.mnist_test(args.mnist, args.n, rng)
    with tempfile.TemporaryDirectory(prefix="photo-suite-") as tmp:
        directory = Path(args.out) if args.out else Path(tmp)
        synth.make_photo_suite(directory, sources, args.conditions or synth.CONDITION_NAMES, seed=args.seed)
        report = synth.evaluate_photo_suite(network, directory)
    clean = report.get("clean", {}).get("accuracy")
    if args.json:
        print(json.dumps({"model": str(model_path), "seed": args.seed, "n_per_source": args.n, "conditions": report}))
        return EXIT_OK
    sources_seen = sorted({s for r in report.values() for s in r["by_source"]})
    print(f"model: {model_path}   seed {args.seed}, {args.n} digits per source")
    print(f"{'condition':<15}{'all':>8}" + "".join(f"{s:>12}" for s in sources_seen) + f"{'vs clean':>10}")
    for condition in synth.CONDITION_NAMES:
        if condition not in report:
            continue
        r = report[condition]
        gap = f"{(r['accuracy'] - clean) * 100:+.1f}" if clean is not None else ""
        print(f"{condition:<15}{r['accuracy']:>8.1%}" + "".join(
            f"{r['by_source'][s]['accuracy']:>12.1%}" if s in r["by_source"] else f"{'-':>12}" for s in sources_seen
        ) + f"{gap:>10}")
    return EXIT_OK if report else EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
