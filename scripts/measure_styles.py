#!/usr/bin/env python3
"""How models read the handwriting styles MNIST lacks, drawn onto MNIST *test* digits.

    python scripts/measure_styles.py --data-dir DIR [--model shipped --model runs/x/best.npz] [--seed 12345] [--json]

For every model: accuracy on the plain MNIST test 1s, 4s and 7s and on the same digits with a style
drawn by mnist_app.augment.add_handwriting_styles (probability 1): flagged 1s, flagged and footed
1s, closed-top 4s, crossed 7s; and what the misread ones were read as. The seed must differ from
any training seed (training draws its styles on the *training* images, so these test digits and
strokes were never seen either way). docs/results.md holds the latest table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402

from mnist_app.augment import add_handwriting_styles  # noqa: E402
from mnist_app.data import load_mnist  # noqa: E402
from mnist_app.errors import MnistAppError  # noqa: E402
from mnist_app.models import load  # noqa: E402

#: name -> (digit, add_handwriting_styles keyword arguments; None = the plain digits)
CHECKS = {
    "1 plain": (1, None),
    "1 flagged": (1, {"probability": 1.0, "foot_probability": 0.0, "closed_four_probability": 0.0}),
    "1 flagged+footed": (1, {"probability": 1.0, "foot_probability": 1.0, "closed_four_probability": 0.0}),
    "4 plain": (4, None),
    "4 closed top": (4, {"probability": 0.0, "closed_four_probability": 1.0}),
    "7 plain": (7, None),
    "7 crossed": (7, {"probability": 1.0, "closed_four_probability": 0.0}),
}


def measure(network, images: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, dict]:
    results = {}
    for name, (digit, style) in CHECKS.items():
        x = images[labels == digit]
        y = labels[labels == digit]
        if style is not None:
            drawn = add_handwriting_styles(x, y, np.random.default_rng(seed), **style)
            changed = (drawn != x).any(axis=1)  # a digit the style could not be drawn on is not counted
            x, y = drawn[changed], y[changed]
        predicted = network.predict(x.astype(np.float32))
        wrong = predicted[predicted != y]
        results[name] = {
            "n": int(len(y)),
            "accuracy": float(np.mean(predicted == y)),
            "read_as": {str(d): int(c) for d, c in zip(*np.unique(wrong, return_counts=True))},
        }
    results["MNIST test"] = {"n": int(len(labels)), "accuracy": float(np.mean(network.predict(images) == labels))}
    return results


EXAMPLES = """examples:
  python scripts/measure_styles.py --data-dir ~/.cache/mnist_app                 # the shipped model
  python scripts/measure_styles.py --data-dir DIR --model shipped --model models/best.npz --json
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=EXAMPLES)
    parser.add_argument("--data-dir", required=True, help="folder with the four MNIST .gz files")
    parser.add_argument("--model", action="append", help="model name or file (repeatable; default: shipped)")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the drawn strokes (default 12345)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    try:
        data = load_mnist(args.data_dir, download=False)
        report = {}
        for spec in args.model or ["shipped"]:
            network, _meta, _info = load(spec)
            report[spec] = measure(network, data.test_images, data.test_labels, args.seed)
    except MnistAppError as exc:
        print(f"measure_styles.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
