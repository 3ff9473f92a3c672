"""``python scripts/predict.py IMAGE [IMAGE|DIR ...]``: classify your own digit images.

Each image is preprocessed into an MNIST-style 28x28 digit (mnist_app.preprocess), classified
and printed while the next ones are read (mnist_app.predict.classify_each). One line per image on stdout:

    drawing.png  7  98.2%  top-3: 7 98.2%, 1 0.9%, 9 0.4%
    letter_h.png  4  61.0%  unsure (low confidence)  top-3: 4 61.0%, 1 20.3%, 7 9.9%

(an answer not to be trusted -- low confidence, or ink that does not look like a digit -- is
marked unsure with the reason; mnist_app.unsure states the rule). An image of several digits in
a row is read as a number (mnist_app.segment, mnist_app.number), each digit with its confidence:

    year.png  2026  (2 97%, 0 99%, 2 95%, 6 88%)

or, with ``--json``, one JSON object per line:
``{"file", "digit", "confidence", "probabilities", "unsure", "unsure_reason", "error", "model"}``;
for a number also ``"number"`` and ``"digits": [{"digit", "confidence", "box", "unsure"}]`` (box:
left, top, right, bottom in the image's pixels; ``digit`` and ``probabilities`` are null). In text mode one
``model: ...`` line on stderr names the model that answered (see mnist_app.models).
A file that cannot be read (or holds no digit) gets a one-line error on stderr (and ``"error"``
in JSON) without stopping the others. Exit status: 0 all classified, 1 any image or the model failed, 2 usage error,
130 Ctrl-C (the answers printed so far stay, then "interrupted").

``--show OUT.png`` draws, per image, the original, the 28x28 the network saw and the
probability bars (mnist_app.plot.plot_predictions): up to PREDICTIONS_PER_FIGURE images go in one
figure (OUT.png); more images are split into numbered files OUT-1.png, OUT-2.png, ... .
matplotlib is imported only then.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import (
    EXIT_FAILURE, EXIT_OK, add_model_option, bounded_int, error, make_parser, nonempty_path, output_name, run,
)
from mnist_app.plot import PREDICTIONS_PER_FIGURE, png_name_problem

PROG = "predict.py"

EXAMPLES = """
  python scripts/predict.py my_digit.png                 # digit, confidence, top-3
  python scripts/predict.py drawings/ more/*.png         # directories are walked for images
  python scripts/predict.py --json digits/ > out.jsonl   # one JSON object per image
  python scripts/predict.py seven.png --show why.png     # original | 28x28 input | probabilities
  python scripts/predict.py mnist28.png --no-preprocess  # already MNIST format: pixels as they are
  python scripts/predict.py x.png --model shipped --top 5  # the model that comes with mnist_app
  python scripts/predict.py x.png --model runs/x/best.npz  # any checkpoint
"""


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Classify handwritten digit images (PNG, JPEG, BMP, GIF, ...) with a trained network.",
        EXAMPLES,
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE|DIR", type=nonempty_path, help="image files or directories of them")
    add_model_option(parser)
    parser.add_argument(
        "--no-preprocess",
        action="store_true",
        help="take the pixels as they are (images already in MNIST format; inverted if dark-on-light)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    parser.add_argument(
        "--show",
        type=output_name(png_name_problem),
        metavar="OUT.png",
        help=f"save original | 28x28 input | probability bars per image (more than {PREDICTIONS_PER_FIGURE} "
        "images: OUT-1.png, OUT-2.png, ...)",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="let --show replace an existing file that is not an earlier figure (never an input image)")
    parser.add_argument("--top", type=bounded_int(1, 10), default=3, metavar="K", help="alternatives listed per image (default 3)")
    return parser


def _human_line(pred, k: int) -> str:
    alts = ", ".join(f"{d} {p:.1%}" for d, p in pred.top(k))
    from mnist_app.imagefiles import printable

    unsure = f"  unsure ({pred.unsure_reason})" if pred.unsure else ""
    if pred.number is not None:  # several digits: the number, then each digit's answer
        from mnist_app.number import describe

        return f"{printable(pred.file)}  {pred.number}  {describe(pred.digits)}{unsure}"
    return f"{printable(pred.file)}  {pred.digit}  {pred.confidence:.1%}{unsure}  top-{k}: {alts}"


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.models import announcement, load
    from mnist_app.predict import classify_each, expand_paths, failed

    entries = expand_paths(args.images)
    paths = [p for p, problem in entries if problem is None]
    if args.show:  # a figure that could not be written is refused before any image is classified
        from mnist_app.plot import check_outputs, prediction_figure_paths

        check_outputs(prediction_figure_paths(args.show, len(paths)), [str(p) for p, _ in entries],
                      overwrite=args.overwrite)
    network, _meta, model = load(args.model)
    if not args.json:
        print(announcement(model), file=sys.stderr)
    elif model.advice:
        print(model.advice, file=sys.stderr)
    # Each answer is printed as soon as it is known: a big folder shows progress, and a Ctrl-C
    # keeps the lines already printed (whole lines: --json stays valid JSON Lines), then "interrupted".
    by_path = classify_each(network, paths, raw=args.no_preprocess)
    model_json = model.to_json()
    results = []
    for p, problem in entries:
        pred = next(by_path) if problem is None else failed(str(p), problem)
        results.append(pred)
        if args.json:
            sys.stdout.write(json.dumps({**pred.to_json(), "model": model_json}) + "\n")
        elif pred.ok:
            sys.stdout.write(_human_line(pred, args.top) + "\n")
        sys.stdout.flush()  # also through a pipe (predict.py DIR | tee), and before an error line
        if not pred.ok:
            error(PROG, pred.error)
    if args.show:
        from mnist_app.plot import plot_predictions

        shown = plot_predictions(results, Path(args.show), title=f"model: {model.describe()}",
                                 overwrite=args.overwrite)
        if not args.json:
            for path in shown:
                print(f"saved {path}", file=sys.stderr)
    return EXIT_OK if all(p.ok for p in results) else EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
