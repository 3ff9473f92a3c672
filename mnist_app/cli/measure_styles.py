"""``python scripts/measure_styles.py``: how models read the handwriting styles MNIST lacks,
drawn onto MNIST *test* digits.

For every model: accuracy on the plain MNIST test 1s, 4s and 7s and on the same digits with a
style drawn by mnist_app.augment.add_handwriting_styles (probability 1): flagged 1s, flagged and
footed 1s, closed-top 4s, crossed 7s; and what the misread ones were read as
(mnist_app.augment.read_styles). The seed must differ from any training seed (training draws its
styles on the *training* images, so these test digits and strokes were never seen either way).
docs/results.md holds the latest table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mnist_app.cli.common import EXIT_OK, make_parser, nonempty_path, run

PROG = "measure_styles.py"

EXAMPLES = """
  python scripts/measure_styles.py --data-dir ~/.cache/mnist_app                 # the shipped model
  python scripts/measure_styles.py --data-dir DIR --model shipped --model models/best.npz --json
"""


def build_parser():
    parser = make_parser(PROG, "How models read the handwriting styles MNIST lacks, drawn onto MNIST test digits.",
                         EXAMPLES)
    parser.add_argument("--data-dir", type=nonempty_path, required=True, help="folder with the four MNIST .gz files")
    parser.add_argument("--model", type=nonempty_path, action="append", help="model name or file (repeatable; default: shipped)")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the drawn strokes (default 12345)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.augment import read_styles
    from mnist_app.data import load_mnist
    from mnist_app.models import load

    data = load_mnist(args.data_dir, download=False)
    report = {}
    for spec in args.model or ["shipped"]:
        network, _meta, _info = load(spec)
        report[spec] = read_styles(network, data.test_images, data.test_labels, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    names = list(next(iter(report.values())))
    print("| check | n | " + " | ".join(report) + " |")
    print("|---|---|" + "---|" * len(report))
    for name in names:
        cells = []
        for spec in report:
            r = report[spec][name]
            misread = ", ".join(f"{c}x'{d}'" for d, c in sorted(r.get("read_as", {}).items(), key=lambda t: -t[1])[:2])
            cells.append(f"{100 * r['accuracy']:.2f}%" + (f" ({misread})" if misread else ""))
        print(f"| {name} | {report[next(iter(report))][name]['n']} | " + " | ".join(cells) + " |")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
