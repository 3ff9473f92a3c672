"""``python scripts/plot.py``: pictures of training runs and of trained networks.

Histories (one or several ``history.json`` files) are overlaid: accuracy and cost per epoch.
With a model file, ``--confusion``, ``--misclassified`` or ``--weights`` draws the test set's
confusion matrix, the most confidently misclassified test digits, or the hidden neurons' weights.
Pictures land beside what they show (OUTPUT_HELP) and never over an input; the work is in
mnist_app.plot (history_pictures, model_picture).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import (
    EXIT_OK, add_data_options, load_data, make_parser, nonempty_path, output_name, positive_int, program_name, run,
)

PROG = "plot.py"

EXAMPLES = """
  python scripts/plot.py models/history.json                       # -> models/history.png
  python scripts/plot.py runs/textbook/history.json runs/improved/history.json runs/best/history.json \\
      -o comparison.png                                            # overlay several runs
  python scripts/plot.py --confusion models/best.npz               # -> models/best-confusion.png
  python scripts/plot.py --misclassified best --count 48           # -> models/best-misclassified.png
  python scripts/plot.py --weights shipped --count 64 -o weights.png
"""

OUTPUT_HELP = (
    "output PNG (default: beside the input: HISTORY.png for one history, comparison.png in the "
    "histories' common folder for several, MODEL-<kind>.png beside a model; the shipped model's "
    "pictures go to the current folder)"
)


def build_parser():
    from mnist_app.plot import png_name_problem

    parser = make_parser(
        PROG,
        "Plot training histories (accuracy and cost per epoch, several runs overlaid) or diagnose a "
        "trained model: confusion matrix, most confidently misclassified digits, hidden-layer weights.",
        EXAMPLES,
    )
    parser.add_argument("histories", nargs="*", metavar="HISTORY.json", type=nonempty_path, help="history.json files to overlay")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--confusion", metavar="MODEL", type=nonempty_path, help="confusion matrix of MODEL on the 10,000 test images "
                      "(MODEL: a checkpoint path, or shipped/best/personal/last)")
    kind.add_argument("--misclassified", metavar="MODEL", type=nonempty_path,
                      help="gallery of the test digits MODEL gets wrong most confidently")
    kind.add_argument("--weights", metavar="MODEL", type=nonempty_path, help="first hidden layer's weights as 28x28 images")
    parser.add_argument("-o", "--output", type=output_name(png_name_problem), metavar="PNG", help=OUTPUT_HELP)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing file that is not an earlier figure (never an input)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="N",
                        help="digits in the gallery (default 36) or neurons drawn (default 100, at most "
                        "the hidden layer's size)")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--json", action="store_true", help="print one JSON object {\"kind\", \"output\", ...} on stdout")
    add_data_options(parser)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_app import plot

    spec = args.confusion or args.misclassified or args.weights
    if spec and args.histories:
        parser.error("give either history.json files or one of --confusion/--misclassified/--weights, not both")
    if not spec and not args.histories:
        parser.error("nothing to plot: give history.json files or --confusion/--misclassified/--weights MODEL")
    output = Path(args.output) if args.output else None
    if not spec:
        report = plot.history_pictures(args.histories, output, title=args.title, overwrite=args.overwrite)
    else:
        from mnist_app.models import SHIPPED, load

        kind = next(k for k in plot.MODEL_PICTURES if getattr(args, k))
        network, _meta, model = load(spec)  # one CheckpointError line unless a 784 -> 10 classifier
        output = output or plot.default_output(kind, model_path=model.path, shipped=model.name == SHIPPED)
        report = {"model": model.to_json(), **plot.model_picture(
            kind, network, output, inputs=[model.path], count=args.count, title=args.title,
            load_data=lambda: load_data(args), overwrite=args.overwrite)}
    if args.json:
        print(json.dumps(report))
    else:
        for note in report["notes"]:
            print(f"{program_name(PROG)}: note: {note}", file=sys.stderr)
        print(f"wrote {report['output']}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
