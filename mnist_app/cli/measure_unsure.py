"""``python scripts/measure_unsure.py``: how the unsure rule (mnist_app.unsure) trades flagged
right answers for caught wrong answers and caught non-digits.

Sets: MNIST test, digits-dev (real non-MNIST digits), non-digits-dev (27 handwritten letters;
the 21 that no one would read as a digit counted separately) and a synthetic set drawn with
``--seed`` (default 2; the check was trained on seed 1): hand-drawn and printed letters, digits,
scribbles and noise (mnist_app.strokes), all read through the real preprocessing. Prints markdown
tables (docs/unsure.md holds the shipped model's): the rule as stated, every candidate score at
the same 2% budget of flagged right digits-dev answers, the choice of the two thresholds, and the
risk-coverage trade-off of the raw top output alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import (
    EXIT_OK, add_data_options, add_model_option, load_data, make_parser, nonempty_path, positive_int, run,
)

PROG = "measure_unsure.py"

EXAMPLES = """
  python scripts/measure_unsure.py --data-dir MNIST_DIR --digits-dev DIGITS_DEV_DIR \\
      --non-digits-dev NON_DIGITS_DEV_DIR
  python scripts/measure_unsure.py ... --model best --json > unsure.json
  python scripts/measure_unsure.py ... --write-thresholds     # choose and state the thresholds
"""


def build_parser():
    from mnist_app.unsure import THRESHOLDS_FILE

    parser = make_parser(PROG, "Risk-coverage tables of the unsure rule.", EXAMPLES)
    add_data_options(parser)
    add_model_option(parser)
    parser.add_argument("--digits-dev", metavar="DIR", type=nonempty_path, required=True, help="real digits with manifest.csv (file,label)")
    parser.add_argument("--non-digits-dev", metavar="DIR", type=nonempty_path, required=True,
                        help="handwritten letters with manifest.csv (file,letter,digit_like)")
    parser.add_argument("--seed", type=int, default=2, help="seed of the synthetic set (default 2)")
    parser.add_argument("--rounds", type=positive_int, default=25, help="rounds of synthetic glyphs (default 25, ~2,600 images)")
    parser.add_argument("--check", metavar="PATH", type=nonempty_path, help="a not-a-digit check to measure instead of the shipped one "
                        "(scripts/train_digit_check.py --out PATH)")
    parser.add_argument("--json", action="store_true", help="one JSON report on stdout instead of tables")
    parser.add_argument("--write-thresholds", metavar="PATH", type=nonempty_path, nargs="?", const=str(THRESHOLDS_FILE), default=None,
                        help="write the thresholds chosen by mnist_app.unsure_lab.pick_thresholds to PATH "
                        f"(default {THRESHOLDS_FILE}, which the rule reads); run it again to see the new rule")
    return parser


def _pct(flags, mask=None) -> str:
    import numpy as np

    f = flags if mask is None else flags[mask]
    return f"{np.mean(f):.1%}" if len(f) else "-"


def measure(network, mnist, digits_dev: Path, non_digits_dev: Path, seed: int, rounds: int,
            check: Path | None = None) -> dict:
    import numpy as np

    from mnist_app import unsure
    from mnist_app.unsure_lab import (
        BUDGETS, DIGIT_KINDS, candidates, flags, pick_thresholds, prepare_files, read_labelled_dir, score, synthetic_set,
    )

    paths, rows = read_labelled_dir(digits_dev, "label")
    X, found = prepare_files(paths)
    labels = np.array([int(r["label"]) for r in rows])
    dev = score("digits-dev", network, X[found], labels=labels[found], refused=int((~found).sum()), check=check)
    paths, rows = read_labelled_dir(non_digits_dev, "letter")
    X, found = prepare_files(paths)
    letter_dl = np.array([r["digit_like"].strip().lower() == "yes" for r in rows])[found]
    letters = score("letters", network, X[found], refused=int((~found).sum()), check=check)
    test = score("MNIST test", network, mnist.test_images, labels=mnist.test_labels, check=check)
    synth = synthetic_set(seed, rounds)
    synth_scored = score("synthetic", network, synth.X, check=check)
    groups = {  # set name -> (Scored, mask or None, images refused by preprocessing)
        "MNIST test, right": (test, test.right, 0),
        "MNIST test, wrong": (test, ~test.right, 0),
        "digits-dev, right": (dev, dev.right, 0),
        "digits-dev, wrong": (dev, ~dev.right, 0),
        "letters, all 27": (letters, None, letters.refused),
        "letters, not digit-like": (letters, ~letter_dl, 0),
        "synthetic letters, not digit-like": (synth_scored, synth.select(["stroke_letter", "font_letter"], digit_like=False), 0),
        "synthetic letters, digit-like": (synth_scored, synth.select(["stroke_letter", "font_letter"], digit_like=True), 0),
        "synthetic digits": (synth_scored, synth.select(DIGIT_KINDS), 0),
        "synthetic scribbles": (synth_scored, synth.select(["scribble"]), 0),
        "synthetic noise": (synth_scored, synth.select(["noise"]), synth.no_digit_found.get("noise", 0)),
    }

    def row(thresholds: dict | None = None, *, by=None) -> dict:
        out = {}
        cache = {}
        for name, (s, mask, refused) in groups.items():
            if by is not None:
                f = by(s)
            else:
                if s.name not in cache:
                    cache[s.name] = flags(s, **(thresholds or {}))
                f = cache[s.name]
            f = f if mask is None else f[mask]
            n = len(f) + refused
            out[name] = {"n": n, "flagged": (int(f.sum()) + refused) / n if n else None}
        return out

    report = {
        "rule": {"min_top_output": unsure.MIN_TOP_OUTPUT, "max_not_digit_score": unsure.MAX_NOT_DIGIT_SCORE,
                 "flagged": row(), "no_digit_found": {"digits-dev": dev.refused, "letters": letters.refused,
                                                       "synthetic noise": synth.no_digit_found.get("noise", 0)}},
        "accuracy": {"MNIST test": float(test.right.mean()), "digits-dev": float(dev.right.mean())},
        "risk_coverage": {},
    }
    for s in (test, dev):  # answers kept (not unsure) and the error rate among them
        keep = ~flags(s)
        report["risk_coverage"][s.name] = {"coverage": float(keep.mean()), "risk_before": float((~s.right).mean()),
                                           "risk_after": float((~s.right[keep]).mean())}
    # every candidate alone, at the same budget of flagged right digits-dev answers
    report["candidates"] = {}
    dev_c = candidates(dev)
    all_c = {s.name: candidates(s) for s in (test, letters, synth_scored)} | {"digits-dev": dev_c}
    for key in dev_c:
        cut = float(np.quantile(dev_c[key][dev.right], 1 - BUDGETS["digits-dev"]))
        report["candidates"][key] = {"threshold": cut, "flagged": row(by=lambda s, k=key, c=cut: all_c[s.name][k] > c)}
    # the split of the budget between the two thresholds, and the pair chosen by the fixed rule
    letter_mask = synth.select(["stroke_letter", "font_letter"], digit_like=False)
    chosen, rows = pick_thresholds([dev, test], synth_scored, letter_mask)
    report["choices"] = [{"min_top_output": r["min_top_output"], "max_not_digit_score": r["max_not_digit_score"],
                          "chosen": r is chosen, "flagged": row({"min_top_output": r["min_top_output"],
                                                                 "max_not_digit_score": r["max_not_digit_score"]})}
                         for r in rows]
    report["chosen"] = {"min_top_output": chosen["min_top_output"], "max_not_digit_score": chosen["max_not_digit_score"]}
    # risk-coverage of the raw top output alone: answers kept, and the error rate among them
    report["top_output_alone"] = []
    for s in (test, dev):
        top = s.outputs.max(axis=1)
        for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9):
            keep = top >= t
            report["top_output_alone"].append({
                "set": s.name, "min_top_output": t, "coverage": float(keep.mean()),
                "risk": float((~s.right[keep]).mean()) if keep.any() else None,
                "right_flagged": float((~keep[s.right]).mean()), "wrong_flagged": float((~keep[~s.right]).mean()),
            })
    return report


def tables(report: dict) -> str:
    from mnist_app.unsure_lab import BUDGETS

    groups = list(report["rule"]["flagged"])
    head = "| | " + " | ".join(groups) + " |\n|---|" + "---|" * len(groups) + "\n"

    def cells(flagged: dict) -> str:
        return " | ".join("-" if v["flagged"] is None else f"{v['flagged']:.1%}" for v in flagged.values())

    rule = report["rule"]
    out = [f"Rule: unsure if ink everywhere / scattered specks, or not-a-digit score > {rule['max_not_digit_score']}, "
           f"or raw top output < {rule['min_top_output']}. Share flagged (no digit found counts as flagged):\n"]
    out.append(head + "| n | " + " | ".join(str(v["n"]) for v in rule["flagged"].values()) + " |\n"
               + "| flagged | " + cells(rule["flagged"]) + " |\n")
    out.append(f"Accuracy: MNIST test {report['accuracy']['MNIST test']:.2%}, digits-dev "
               f"{report['accuracy']['digits-dev']:.2%}; no digit found: {rule['no_digit_found']}\n")
    out.append("".join(f"{name}: the rule keeps {v['coverage']:.1%} of the answers; error rate among them "
                       f"{v['risk_before']:.2%} -> {v['risk_after']:.2%}\n" for name, v in report["risk_coverage"].items()))
    out.append(f"Each candidate alone, thresholded to flag {BUDGETS['digits-dev']:.0%} of right digits-dev answers:\n")
    out.append(head + "".join(f"| {k} (> {v['threshold']:.3g}) | {cells(v['flagged'])} |\n"
                              for k, v in report["candidates"].items()))
    budgets = ", ".join(f"{share:.0%} of {name}" for name, share in BUDGETS.items())
    out.append(f"\nSplitting the budgets (right answers flagged: {budgets}) between the two "
               "thresholds; the chosen pair in bold (mnist_app.unsure_lab.pick_thresholds):\n")
    out.append(head + "".join(f"| {'**' if c['chosen'] else ''}top < {c['min_top_output']}, score > "
                              f"{c['max_not_digit_score']:.2f}{' (chosen)**' if c['chosen'] else ''} | "
                              f"{cells(c['flagged'])} |\n" for c in report["choices"]))
    out.append("\nRaw top output alone: risk (error rate among answers kept) against coverage:\n")
    out.append("| set | top output below | coverage | risk | right flagged | wrong flagged |\n|---|---|---|---|---|---|\n" + "".join(f"| {r['set']} | {r['min_top_output']} | {r['coverage']:.1%} | {r['risk']:.2%} | "
                       f"{r['right_flagged']:.1%} | {r['wrong_flagged']:.1%} |\n" for r in report["top_output_alone"]))
    return "\n".join(out)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from mnist_app.models import SHIPPED, load

    if args.write_thresholds and args.model is None:
        args.model = SHIPPED  # the stated thresholds are the shipped model's, whatever models/ holds

    network, _meta, _info = load(args.model)
    mnist = load_data(args)
    report = measure(network, mnist, Path(args.digits_dev), Path(args.non_digits_dev), args.seed, args.rounds,
                     Path(args.check) if args.check else None)
    print(json.dumps(report, indent=1) if args.json else tables(report))
    if args.write_thresholds:
        from mnist_app.unsure_lab import write_thresholds

        # the data folders by their role, not their path: the file travels with the package
        write_thresholds(args.write_thresholds, report, command=(
            "python scripts/measure_unsure.py --data-dir MNIST_DIR --digits-dev DIGITS_DEV_DIR --non-digits-dev "
            f"NON_DIGITS_DEV_DIR --model {args.model} --seed {args.seed} --rounds {args.rounds} --write-thresholds"))
        print(f"wrote {args.write_thresholds}: {report['chosen']}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
