"""``python scripts/measure_finetune.py``: few-shot adaptation, measured. For each group of a
labelled folder (a source or a drawing style of digits-dev), fine-tune on k images per digit and
test on the group's other images (mnist_app.finetune.few_shot).

Prints a Markdown table (docs/finetune.md holds the latest one): per group and k, the held-out
accuracy before and after (mean and standard deviation over the random draws), MNIST test
before and after, and the CPU seconds of one fine-tune.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mnist_app.cli.common import EXIT_FAILURE, EXIT_OK, error, make_parser, nonempty_path, positive_int, run

PROG = "measure_finetune.py"

EXAMPLES = """
  python scripts/measure_finetune.py DIGITS_DEV_DIR --data-dir ~/.cache/mnist_app   # docs/finetune.md's table
  python scripts/measure_finetune.py my_digits/ --data-dir DIR --k 3 --draws 2 --groups source=drawn
"""


def manifest_group(text: str) -> str:
    """argparse type: COLUMN=VALUE of the folder's manifest."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"not COLUMN=VALUE: {text!r}")
    return text


def _in_group(item: dict, group: str) -> bool:
    column, value = group.split("=", 1)
    return item.get(column) == value


def build_parser():
    parser = make_parser(PROG, "Few-shot fine-tuning measured per group of a labelled folder: held-out accuracy "
                         "before and after, MNIST test before and after.", EXAMPLES)
    parser.add_argument("folder", type=nonempty_path, help="labelled folder with source/style columns (digits-dev)")
    parser.add_argument("--data-dir", type=nonempty_path, required=True, help="folder with the four MNIST .gz files")
    parser.add_argument("--model", type=nonempty_path, default="shipped", help="model to fine-tune (default shipped)")
    parser.add_argument("--k", type=positive_int, nargs="+", default=[1, 3, 10],
                        help="images per digit to fine-tune on (default 1 3 10)")
    parser.add_argument("--draws", type=positive_int, default=5, help="random draws per group and k (default 5)")
    parser.add_argument("--groups", type=manifest_group, nargs="+", metavar="COLUMN=VALUE",
                        default=["source=semeion", "source=usps", "style=dark-on-white", "style=light-on-dark",
                                 "style=transparent"], help="groups of the folder to measure (default: digits-dev's five)")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    import numpy as np

    from mnist_app.data import load_mnist
    from mnist_app.evaluate import labelled_images
    from mnist_app.finetune import Settings, accuracy, few_shot
    from mnist_app.models import load
    from mnist_app.preprocess import prepare

    items, _ = labelled_images(args.folder)
    groups = {group: np.array([i for i, it in enumerate(items) if _in_group(it, group)], dtype=np.intp)
              for group in args.groups}
    empty = [group for group, members in groups.items() if not len(members)]
    if empty:
        error(PROG, f"{args.folder}: no image of its manifest is in {', '.join(empty)}")
        return EXIT_FAILURE
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
    for group, members in groups.items():
        for k in args.k:
            m = few_shot(base, X, y, members, k, args.draws, mnist, settings)
            if m is None:
                print(f"| {group} | {k} | (fewer than {k + 1} images of some digit) | | | | |")
                continue
            print(f"| {group} | {k} | {np.mean(m['before']):.1%} | {np.mean(m['after']):.1%} ± {np.std(m['after']):.1%} "
                  f"| {mnist_before:.2%} | {np.mean(m['mnist_after']):.2%} (min {np.min(m['mnist_after']):.2%}) "
                  f"| {np.mean(m['seconds']):.1f} |", flush=True)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
