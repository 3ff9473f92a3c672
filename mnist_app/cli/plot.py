"""``python scripts/plot.py``: pictures of training runs and of trained networks.

Histories (one or several ``history.json`` files) are overlaid: accuracy and cost per epoch.
With a model file, ``--confusion``, ``--misclassified`` or ``--weights`` draws the test set's
confusion matrix, the most confidently misclassified test digits, or the hidden neurons' weights.
Pictures land beside what they show (OUTPUT_HELP) and never over an input; the drawing is in
mnist_app.plot.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, add_data_options, load_data, make_parser, positive_int, program_name, run
from mnist_app.models import SHIPPED

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
    parser = make_parser(
        PROG,
        "Plot training histories (accuracy and cost per epoch, several runs overlaid) or diagnose a "
        "trained model: confusion matrix, most confidently misclassified digits, hidden-layer weights.",
        EXAMPLES,
    )
    parser.add_argument("histories", nargs="*", metavar="HISTORY.json", help="history.json files to overlay")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--confusion", metavar="MODEL", help="confusion matrix of MODEL on the 10,000 test images "
                      "(MODEL: a checkpoint path, or shipped/best/personal/last)")
    kind.add_argument("--misclassified", metavar="MODEL",
                      help="gallery of the test digits MODEL gets wrong most confidently")
    kind.add_argument("--weights", metavar="MODEL", help="first hidden layer's weights as 28x28 images")
    parser.add_argument("-o", "--output", metavar="PNG", help=OUTPUT_HELP)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing file that is not an earlier figure (never an input)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="N",
                        help="digits in the gallery (default 36) or neurons drawn (default 100, at most "
                        "the hidden layer's size)")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--json", action="store_true", help="print one JSON object {\"kind\", \"output\", ...} on stdout")
    add_data_options(parser)
    return parser


def default_output(kind: str, histories: Sequence[str], model=None) -> Path:
    """Where a picture goes without -o: beside what it shows (see OUTPUT_HELP)."""
    if kind == "history":
        if len(histories) == 1:
            return Path(histories[0]).with_suffix(".png")
        folder = os.path.commonpath([os.path.abspath(Path(h).parent) for h in histories])
        return Path(os.path.relpath(folder)) / "comparison.png"
    folder = Path(".") if model.name == SHIPPED else model.path.parent
    return folder / f"{model.path.stem}-{kind}.png"


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_app import plot

    spec = args.confusion or args.misclassified or args.weights
    if spec and args.histories:
        parser.error("give either history.json files or one of --confusion/--misclassified/--weights, not both")
    if not spec and not args.histories:
        parser.error("nothing to plot: give history.json files or --confusion/--misclassified/--weights MODEL")
    kind = "confusion" if args.confusion else "misclassified" if args.misclassified else "weights" if args.weights \
        else "history"
    report: dict = {"kind": kind}
    notes: list[str] = []

    if kind == "history":
        runs = []
        for name in args.histories:
            history = plot.load_history(name)
            runs.append((plot.history_label(name, history), history))
        output = Path(args.output) if args.output else default_output(kind, args.histories)
        plot.check_outputs([output], args.histories, overwrite=args.overwrite)
        title = runs[0][0] if len(runs) == 1 and args.title is None else args.title
        plot.plot_histories(runs, output, title=title)
        report["runs"] = [
            {"label": label, "epochs": len(h["epochs"]),
             "best_validation_accuracy": max(e["validation_accuracy"] for e in h["epochs"]),
             "final_test_accuracy": h["epochs"][-1]["test_accuracy"]}
            for label, h in runs
        ]
    else:
        from mnist_app.models import load

        # load also checks the shape: 784 inputs and 10 outputs, or one CheckpointError line.
        network, _meta, model = load(spec)
        report["model"] = model.to_json()
        output = Path(args.output) if args.output else default_output(kind, [], model)
        plot.check_outputs([output], [model.path], overwrite=args.overwrite)
        if kind == "weights":
            hidden = network.sizes[1]
            count = min(args.count or 100, hidden)
            if args.count and args.count > hidden:
                notes.append(f"the model has {hidden} hidden neurons, not {args.count}: drawing all {hidden}")
            plot.plot_weights(network, output, count=count)
            report["neurons_drawn"] = count
        else:
            data = load_data(args)
            outputs = network.feedforward(data.test_images)
            predictions = outputs.argmax(axis=1)
            if kind == "confusion":
                matrix = plot.confusion_matrix(data.test_labels, predictions, network.sizes[-1])
                plot.plot_confusion(matrix, output, title=args.title)
                report["confusion_matrix"] = matrix.tolist()
            else:
                plot.plot_misclassified(data.test_images, data.test_labels, outputs, output, count=args.count or 36)
            report["test_accuracy"] = float((predictions == data.test_labels).mean())
    report["output"] = str(output)
    if args.json:
        print(json.dumps({**report, "notes": notes}))
    else:
        for note in notes:
            print(f"{program_name(PROG)}: note: {note}", file=sys.stderr)
        print(f"wrote {output}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
