"""``python scripts/finetune.py DIR``: teach the network your own handwriting.

DIR holds your labelled digit images, read as ``evaluate.py --images`` reads them
(``manifest.csv`` with ``file,label``, or each file name's first character as its label). The
result is ``models/personal.npz`` with a card ``models/personal.json``; use it with
``predict.py --model personal``. The recipe and the measurements: docs/finetune.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from mnist_app.cli.common import (
    EXIT_OK, add_data_options, add_model_option, load_data, make_parser, one_blas_thread, output_name,
    nonempty_path, positive_int, run, shell_word, sibling_command,
)

PROG = "finetune.py"

EXAMPLES = """
  python scripts/finetune.py my_digits/                  # -> models/personal.npz (+ personal.json)
  python scripts/predict.py --model personal x.png       # answer with your personal model
  python scripts/finetune.py my_digits/ --model shipped --out models/mine.npz
  python scripts/finetune.py my_digits/ --json           # one JSON report on stdout
"""


def build_parser():
    from mnist_app.finetune import Settings, out_name_problem

    defaults = Settings()
    parser = make_parser(PROG, "Fine-tune a trained network on your own labelled digit images.", EXAMPLES)
    parser.add_argument("directory", metavar="DIR", type=nonempty_path, help="folder of labelled images (manifest.csv or 7_name.png)")
    add_model_option(parser)
    parser.add_argument("--out", metavar="PATH.npz", type=output_name(out_name_problem),
                        help="where to save the tuned model, its card beside it as .json (default: models/personal.npz; "
                        "an earlier fine-tune's model is replaced, any other file is not)")
    parser.add_argument("--presentations", type=positive_int, default=defaults.presentations, metavar="N",
                        help=f"times each of your digits is shown, freshly distorted (default {defaults.presentations})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"random seed (default {defaults.seed})")
    parser.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    add_data_options(parser)
    return parser


def _percent(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _main(argv: Sequence[str] | None) -> int:
    one_blas_thread()  # before numpy loads: many mini-batches of 20 (see its docstring)
    args = build_parser().parse_args(argv)
    from mnist_app.finetune import Settings, personalise, total_examples
    from mnist_app.imagefiles import printable

    settings = Settings(presentations=args.presentations, seed=args.seed)
    # A bar only on a terminal, as train and download do: in a log file it is a line of carriage returns.
    show_bar = not (args.quiet or args.json) and sys.stderr.isatty()
    bar = None

    def on_start(user, base) -> None:
        nonlocal bar
        print(f"model: fine-tuning {base.describe()}", file=sys.stderr)
        print(f"images: {len(user)} used ({', '.join(f'{d}:{n}' for d, n in enumerate(user.per_digit()))})"
              + (f", {len(user.skipped)} skipped" if user.skipped else "")
              + (f", {len(user.duplicates)} duplicate{'s' if len(user.duplicates) != 1 else ''} counted once"
                 if user.duplicates else ""), file=sys.stderr)
        for where, problem in user.skipped:
            print(f"  skipped {printable(problem)}", file=sys.stderr)
        for file, same in user.duplicates:
            print(f"  duplicate {printable(file)} (same pixels as {printable(same)})", file=sys.stderr)
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=total_examples(len(user), settings), unit="img", unit_scale=True,
                       desc="fine-tuning", file=sys.stderr, leave=False)

    try:
        outcome = personalise(args.directory, lambda: load_data(args, quiet=args.quiet or not sys.stderr.isatty()),
                              base=args.model, out=args.out, settings=settings,
                              progress=(lambda n: bar.update(n)) if show_bar else None,
                              on_start=on_start)
    finally:
        if bar is not None:
            bar.close()
    rep = outcome.report
    if args.json:
        print(json.dumps({**rep.to_json(), "model": str(outcome.model_path), "card": str(outcome.card_path),
                          "base": outcome.base.to_json(), "skipped": [p for _, p in outcome.user.skipped],
                          "duplicates": len(outcome.user.duplicates)}))
        return EXIT_OK
    cv = (f"{_percent(rep.user_after_cv)} ({rep.folds}-fold cross-validated)" if rep.user_after_cv is not None
          else f"not measured (cross-validation needs at least {settings.folds} images)")
    print(f"your digits:  before {_percent(rep.user_before)}  after {cv}")
    print(f"MNIST test:   before {_percent(rep.mnist_test_before)}  after {_percent(rep.mnist_test_after)}")
    print(f"saved {outcome.model_path} and {outcome.card_path} in {rep.seconds:.1f} s")
    model = "personal" if args.out is None else shell_word(outcome.model_path)
    print(f"next: {sibling_command(PROG, 'predict')} --model {model} IMAGE")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
