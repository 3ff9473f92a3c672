"""``python scripts/plot.py``: pictures of training runs and of trained networks.

Histories (one or several ``history.json`` files) are overlaid: accuracy and cost per epoch.
With a model file, ``--confusion``, ``--misclassified`` or ``--weights`` draws the test set's
confusion matrix, the most confidently misclassified test digits, or the hidden neurons' weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, add_data_options, load_data, make_parser, positive_int, run

PROG = "plot.py"

EXAMPLES = """
  python scripts/plot.py models/history.json                       # -> history.png
  python scripts/plot.py runs/textbook/history.json runs/improved/history.json runs/best/history.json \\
      -o comparison.png                                            # overlay several runs
  python scripts/plot.py --confusion models/best.npz -o confusion.png      # test-set confusion matrix
  python scripts/plot.py --misclassified models/best.npz --count 48        # -> misclassified.png
  python scripts/plot.py --weights models/best.npz --count 64              # -> weights.png
"""

DEFAULT_OUTPUT = {"history": "history.png", "confusion": "confusion.png",
                  "misclassified": "misclassified.png", "weights": "weights.png"}


def build_parser():
    parser = make_parser(
        PROG,
        "Plot training histories (accuracy and cost per epoch, several runs overlaid) or diagnose a "
        "trained model: confusion matrix, most confidently misclassified digits, hidden-layer weights.",
        EXAMPLES,
    )
    parser.add_argument("histories", nargs="*", metavar="HISTORY.json", help="history.json files to overlay")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--confusion", metavar="MODEL.npz", help="confusion matrix of MODEL on the 10,000 test images")
    kind.add_argument("--misclassified", metavar="MODEL.npz",
                      help="gallery of the test digits MODEL gets wrong most confidently")
    kind.add_argument("--weights", metavar="MODEL.npz", help="first hidden layer's weights as 28x28 images")
    parser.add_argument("-o", "--output", metavar="PNG", help="output file (default: <kind>.png in the current folder)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="N",
                        help="digits in the gallery (default 36) or neurons drawn (default 100)")
    parser.add_argument("--title", help="figure title")
    parser.add_argument("--json", action="store_true", help="print {\"output\": ..., ...} on stdout")
    add_data_options(parser)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from mnist_app import plot

    model = args.confusion or args.misclassified or args.weights
    if model and args.histories:
        parser.error("give either history.json files or one of --confusion/--misclassified/--weights, not both")
    if not model and not args.histories:
        parser.error("nothing to plot: give history.json files or --confusion/--misclassified/--weights MODEL.npz")
    kind = "confusion" if args.confusion else "misclassified" if args.misclassified else "weights" if args.weights \
        else "history"
    output = Path(args.output or DEFAULT_OUTPUT[kind])
    report: dict = {"kind": kind, "output": str(output)}

    if kind == "history":
        runs = []
        for name in args.histories:
            history = plot.load_history(name)
            runs.append((plot.history_label(name, history), history))
        if len(runs) == 1 and args.title is None:
            plot.plot_histories(runs, output, title=runs[0][0])
        else:
            plot.plot_histories(runs, output, title=args.title)
        report["runs"] = [
            {"label": label, "epochs": len(h["epochs"]),
             "best_validation_accuracy": max(e["validation_accuracy"] for e in h["epochs"]),
             "final_test_accuracy": h["epochs"][-1]["test_accuracy"]}
            for label, h in runs
        ]
    else:
        from mnist_app.predict import load_model

        # load_model also checks the shape: 784 inputs and 10 outputs, or one CheckpointError line.
        network, _meta = load_model(model)
        if kind == "weights":
            plot.plot_weights(network, output, count=args.count or 100)
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
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"wrote {output}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
