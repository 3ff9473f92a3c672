"""``python scripts/merge_models.py``: several trained digit networks saved as one (an ensemble).

The work is in mnist_app.merge: the result is one ordinary network whose output log-odds are the
mean of the members', so predict, the web page, evaluate and finetune use it as any model.
docs/results.md ("Two networks merged") measures one such merge against the shipped model.
``--mean-weights`` averages the members' weights instead (mnist_app.merge.mean_of_weights), for
networks continued from one model; results.md ("Smaller steps, weight means and ensembles")
measures that too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import EXIT_OK, EXIT_USAGE, error, make_parser, nonempty_path, run

PROG = "merge_models.py"

EXAMPLES = """
  python scripts/merge_models.py runs/a/best.npz runs/b/best.npz --out models/merged.npz
  python scripts/merge_models.py shipped runs/c/best.npz --out both.npz --json
  python scripts/merge_models.py shipped runs/from-shipped/best.npz --mean-weights --out mean.npz
  python scripts/predict.py --model models/merged.npz my_digit.png
"""


def build_parser():
    parser = make_parser(PROG, "Merge trained digit networks into one (the mean of their output log-odds, or of their weights).", EXAMPLES)
    parser.add_argument("models", nargs="+", metavar="MODEL", type=nonempty_path,
                        help="two or more models: checkpoint paths or shipped/best/personal/last")
    parser.add_argument("--out", required=True, metavar="PATH", type=nonempty_path, help="where to save the merged model (.npz)")
    parser.add_argument("--mean-weights", action="store_true",
                        help="average the members' weights instead: one network of their size, for networks "
                             "continued from one model (train.py --init-from it)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--json", action="store_true", help="print the merged model's meta as one JSON object")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        parser.error("give at least two models to merge")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        error(PROG, f"{out}: already exists (add --overwrite to replace it)")
        return EXIT_USAGE
    from mnist_app.errors import MnistAppError
    from mnist_app.merge import AVERAGED_FROM, MERGED_FROM, merge_models

    try:
        meta = merge_models(args.models, out, mean_weights=args.mean_weights)
    except ValueError as exc:
        raise MnistAppError(f"cannot merge these models: {exc}") from None
    if args.json:
        print(json.dumps({"out": str(out), **meta}))
    else:
        if args.mean_weights:
            print(f"saved {out}: the weights of {len(meta[AVERAGED_FROM])} networks averaged", file=sys.stderr)
        else:
            print(f"saved {out}: {len(meta[MERGED_FROM])} networks merged", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
