#!/usr/bin/env python3
"""Few-shot adaptation, measured: for each group of a labelled folder (a source or a drawing
style of digits-dev), fine-tune on k images per digit and test on the group's other images.

    python scripts/measure_finetune.py DIGITS_DEV_DIR --data-dir DIR [--k 1 3 10] [--draws 5]

Prints a Markdown table (docs/finetune.md holds the latest one): per group and k, the held-out
accuracy before and after (mean and standard deviation over the random draws), MNIST test
before and after, and the CPU seconds of one fine-tune.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402

from mnist_app.data import load_mnist  # noqa: E402
from mnist_app.errors import MnistAppError  # noqa: E402
from mnist_app.evaluate import labelled_images  # noqa: E402
from mnist_app.finetune import Settings, accuracy, finetune  # noqa: E402
from mnist_app.models import load  # noqa: E402
from mnist_app.preprocess import prepare  # noqa: E402


EXAMPLES = """examples:
  python scripts/measure_finetune.py DIGITS_DEV_DIR --data-dir ~/.cache/mnist_app   # docs/finetune.md's table
  python scripts/measure_finetune.py my_digits/ --data-dir DIR --k 3 --draws 2 --groups source=drawn
"""


def manifest_group(text: str) -> str:
    """argparse type: COLUMN=VALUE of the folder's manifest."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"not COLUMN=VALUE: {text!r}")
    return text


def main(argv=None) -> int:
    try:
        return measure(argv)
    except MnistAppError as exc:
        print(f"measure_finetune.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def measure(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=EXAMPLES)
    parser.add_argument("folder", type=Path, help="labelled folder with source/style columns (digits-dev)")
    parser.add_argument("--data-dir", required=True, help="folder with the four MNIST .gz files")
    parser.add_argument("--model", default="shipped", help="model to fine-tune (default shipped)")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 10],
                        help="images per digit to fine-tune on (default 1 3 10)")
    parser.add_argument("--draws", type=int, default=5, help="random draws per group and k (default 5)")
    parser.add_argument("--groups", type=manifest_group, nargs="+", metavar="COLUMN=VALUE",
                        default=["source=semeion", "source=usps", "style=dark-on-white", "style=light-on-dark",
                                 "style=transparent"], help="groups of the folder to measure (default: digits-dev's five)")
    args = parser.parse_args(argv)

    items, _ = labelled_images(args.folder)
    X = np.stack([prepare(it["path"]).vector for it in items])
    y = np.array([it["label"] for it in items])
    mnist = load_mnist(args.data_dir, download=False)
    base, _meta, info = load(args.model)
    settings = Settings()
    mnist_before = accuracy(base, mnist.test_images, mnist.test_labels)
    print(f"model: {info.describe()}; settings: {settings}")
    print("| group | k per digit | held-out before | held-out after | MNIST test before | MNIST test after "
          "| CPU s per fine-tune |")
    print("|---|---|---|---|---|---|---|")
    for group in args.groups:
        key, value = group.split("=", 1)
        members = np.array([i for i, it in enumerate(items) if it.get(key) == value])
        for k in args.k:
            if any(np.sum(y[members] == d) <= k for d in range(10)):
                print(f"| {group} | {k} | (fewer than {k + 1} images of some digit) | | | | |")
                continue
            before, after, forget, seconds = [], [], [], []
            for draw in range(args.draws):
                rng = np.random.default_rng(draw)
                train = np.concatenate([rng.choice(members[y[members] == d], k, replace=False) for d in range(10)])
                test = np.setdiff1d(members, train)
                started = time.process_time()
                tuned = finetune(base, X[train], y[train], mnist.train_images, mnist.train_labels, settings, rng)
                seconds.append(time.process_time() - started)
                before.append(accuracy(base, X[test], y[test]))
                after.append(accuracy(tuned, X[test], y[test]))
                forget.append(accuracy(tuned, mnist.test_images, mnist.test_labels))
            print(f"| {group} | {k} | {np.mean(before):.1%} | {np.mean(after):.1%} ± {np.std(after):.1%} "
                  f"| {mnist_before:.2%} | {np.mean(forget):.2%} (min {np.min(forget):.2%}) "
                  f"| {np.mean(seconds):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
