"""``python scripts/evaluate.py``: accuracy, per-digit accuracy and a confusion matrix.

The work is in mnist_app.evaluate (labels, report) and mnist_app.plot (confusion matrix). Two
data sets:

* no ``--images``: the 10,000 MNIST test digits (fetched like every command: --data-dir/--mirror);
* ``--images DIR``: your own images. Labels come from ``DIR/manifest.csv`` when it exists
  (columns ``file,label`` and optionally ``source``, ``style`` -- then accuracy is also broken
  down by them), else from each file name's leading digit (``7_mine.png`` is a 7). Images are
  preprocessed exactly as predict.py does; an image that cannot be read counts as wrong, is
  listed as an error, and makes the exit status 1 (the report is printed all the same); so does
  a subfolder that cannot be searched. The misclassified images are listed, most confident
  first: the worst WORST_SHOWN in text, all of them in ``--json`` (keys: mnist_app.evaluate).

Confusion matrix: row = true digit, column = predicted digit (column "err" = unreadable).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_data_options,
    add_model_option,
    error,
    load_data,
    make_parser,
    nonempty_path,
    run,
)

PROG = "evaluate.py"

EXAMPLES = """
  python scripts/evaluate.py                               # MNIST test set, default model
  python scripts/evaluate.py --images my_digits/           # labels from manifest.csv or 7_name.png
  python scripts/evaluate.py --images my_digits/ --json    # machine-readable report
  python scripts/evaluate.py --model shipped --data-dir ~/mnist  # the model that comes with mnist_app
"""


def build_parser():
    parser = make_parser(PROG, "Evaluate a model on MNIST test or on a folder of labelled digit images.", EXAMPLES)
    parser.add_argument("--images", type=nonempty_path, metavar="DIR", help="folder of images (labels: manifest.csv or leading digit of file name)")
    add_model_option(parser)
    parser.add_argument("--no-preprocess", action="store_true", help="images are already MNIST format: take pixels as they are")
    parser.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    add_data_options(parser)
    return parser


WORST_SHOWN = 10  # misclassified images listed in the text report (--json lists all)


def _print_human(rep: dict) -> None:
    from mnist_app.imagefiles import printable

    print(f"model:    {printable(rep['model']['description'])}")
    print(f"data:     {printable(rep['dataset'])}")
    print(f"accuracy: {rep['accuracy']:.2%} ({rep['correct']}/{rep['n']})"
          + (f", {rep['n_unreadable']} unreadable" if rep["n_unreadable"] else ""))
    print("per digit: " + "  ".join(
        f"{d}:{v['accuracy']:.1%}" if v["accuracy"] is not None else f"{d}:-" for d, v in rep["per_digit"].items()
    ))
    for key, table in rep["breakdown"].items():
        print(f"by {key}: " + "  ".join(f"{name} {v['accuracy']:.1%} (n={v['n']})" for name, v in table.items()))
    print("confusion matrix (rows: true digit, columns: predicted)")
    err_col = any(rep["unreadable_per_digit"])
    print("      " + "".join(f"{d:>6}" for d in range(10)) + ("   err" if err_col else ""))
    for d, row in enumerate(rep["confusion"]):
        print(f"{d:>6}" + "".join(f"{v:>6}" for v in row) + (f"{rep['unreadable_per_digit'][d]:>6}" if err_col else ""))
    wrong = rep["misclassified"]
    if wrong:
        print(f"most confident mistakes ({min(len(wrong), WORST_SHOWN)} of {len(wrong)}; --json lists all):")
        for m in wrong[:WORST_SHOWN]:
            name = printable(m["file"]) if "file" in m else f"test image #{m['index']}"
            print(f"  {name}  is {m['label']}, answered {m['answer']} ({m['confidence']:.1%})")


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.evaluate import evaluate_images, evaluate_mnist
    from mnist_app.models import load

    network, _meta, model = load(args.model)
    if model.advice:  # the report's own "model:" line names the model; this says it is weaker
        print(model.advice, file=sys.stderr)
    if args.images:
        rep = evaluate_images(network, Path(args.images), raw=args.no_preprocess)
        dataset = str(args.images)
        if not args.json:
            for problem in [u["error"] for u in rep["unreadable"]] + [f["error"] for f in rep["unreadable_folders"]]:
                error(PROG, problem)
    else:
        data = load_data(args, quiet=args.quiet or not sys.stderr.isatty())
        rep = evaluate_mnist(network, data.test_images, data.test_labels)
        dataset = f"MNIST test ({len(data.test_labels):,} images)"
    rep = {"model": model.to_json(), "dataset": dataset, **rep}
    if args.json:
        print(json.dumps(rep))
    else:
        _print_human(rep)
    # Unreadable images count as wrong in the report, and make the run a failure (as in predict.py).
    return EXIT_FAILURE if rep["unreadable"] or rep["unreadable_folders"] else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
