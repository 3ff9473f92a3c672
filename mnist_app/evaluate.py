"""Accuracy of a model on labelled data: the MNIST test set or a folder of the user's images.

* :func:`labelled_images` -- a folder's images and their labels: from ``manifest.csv`` when it
  exists (columns ``file,label`` and optionally ``source``, ``style``; Excel's "CSV UTF-8" with
  a byte-order mark is fine), else from each file name's leading digit (``7_mine.png`` is a 7).
* :func:`evaluate_images` / :func:`evaluate_mnist` -- the whole report for one data set.
* :func:`report` -- accuracy, per-digit accuracy, the confusion matrix (mnist_app.plot) and a
  breakdown by the manifest's optional columns; an unreadable image (prediction -1) counts as
  wrong and is counted in its own column.
* :func:`mistakes` -- the misclassified items, most confident first.

Report keys (also the ``--json`` output): ``n``, ``correct``, ``accuracy``, ``n_unreadable``
(images that could not be read), ``per_digit``, ``confusion`` (rows: true digit, columns:
predicted), ``unreadable_per_digit``, ``breakdown``, ``misclassified`` (``file`` or ``index``,
``label``, ``answer``, ``confidence``), ``unreadable`` (``file``, ``error``) and
``unreadable_folders`` (``folder``, ``error``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from mnist_app.errors import ImageError
from mnist_app.image_format import N_CLASSES
from mnist_app.plot import confusion_matrix, unreadable_per_class



def labelled_images(directory: Path, *, skip_bad_rows: bool = False) -> tuple[list[dict], list[tuple[Path, str]]]:
    """``([{"path", "label", "source"?, "style"?}], [(folder, problem)])`` from manifest.csv,
    else from file names (then folders the walk could not enter are the problems).

    A manifest row with a bad label or no file name is an ImageError, or with ``skip_bad_rows``
    one more ``(manifest, problem)`` in the list (a fine-tune uses what it can)."""
    from mnist_app.imagefiles import path_problem, walk_images
    from mnist_app.preprocess import is_image_file

    directory = Path(directory)
    problem = path_problem(directory)
    if problem:
        raise ImageError(problem)
    if not directory.is_dir():
        raise ImageError(f"{directory}: not a directory")
    manifest = directory / "manifest.csv"
    items: list[dict] = []
    problems: list[tuple[Path, str]] = []
    if os.path.isfile(manifest):
        try:
            # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which is not part of 'file'
            with manifest.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or not {"file", "label"} <= {f.strip() for f in reader.fieldnames}:
                    raise ImageError(f"{manifest}: needs a header with columns 'file' and 'label'")
                reader.fieldnames = [f.strip() for f in reader.fieldnames]
                for line, row in enumerate(reader, start=2):
                    label = (row.get("label") or "").strip()
                    name = (row.get("file") or "").strip()
                    bad = (f"{manifest}: line {line}: label {label!r} is not a digit 0-9"
                           if label not in tuple("0123456789") else
                           f"{manifest}: line {line}: no file name" if not name else None)
                    if bad and not skip_bad_rows:
                        raise ImageError(bad)
                    if bad:
                        problems.append((manifest, bad))
                        continue
                    item = {"path": directory / name, "label": int(label)}
                    for key in ("source", "style"):
                        if row.get(key):
                            item[key] = row[key]
                    items.append(item)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImageError(f"{manifest}: not a readable UTF-8 CSV file ({exc})") from None
        except OSError as exc:
            raise ImageError(f"{manifest}: cannot read ({exc.strerror or exc})") from None
    else:
        found, problems = walk_images(directory, is_image_file)
        items = [{"path": path, "label": int(path.name[0])} for path in found if path.name[:1].isdigit()]
    if not items:
        if problems and problems[0][0] == directory:  # the folder itself cannot be listed
            raise ImageError(problems[0][1])
        raise ImageError(f"{directory}: no labelled images (need manifest.csv or files named like 7_x.png)")
    return items, problems


def report(labels, predicted, *, groups: dict[str, list] | None = None) -> dict:
    """Accuracy, per-digit accuracy, confusion matrix; predicted -1 = unreadable image."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    n = int(labels.size)
    correct = labels == predicted
    per_digit = {}
    for d in range(N_CLASSES):
        m = labels == d
        per_digit[str(d)] = {"n": int(m.sum()), "accuracy": float(correct[m].mean()) if m.any() else None}
    out = {
        "n": n,
        "correct": int(correct.sum()),
        "accuracy": float(correct.mean()) if n else 0.0,
        "n_unreadable": int((predicted < 0).sum()),
        "per_digit": per_digit,
        "confusion": confusion_matrix(labels, predicted, N_CLASSES).tolist(),
        "unreadable_per_digit": unreadable_per_class(labels, predicted, N_CLASSES).tolist(),
        "breakdown": {},
    }
    for key, values in (groups or {}).items():
        values = np.asarray(values, dtype=object)
        out["breakdown"][key] = {
            str(v): {"n": int((values == v).sum()), "accuracy": float(correct[values == v].mean())}
            for v in sorted(set(values.tolist()))
        }
    return out


def mistakes(labels, answers, confidences, names=None) -> list[dict]:
    """``[{"file"|"index", "label", "answer", "confidence"}]`` for every answered item whose
    answer is wrong, most confident first (the worst mistakes lead)."""
    labels, answers = np.asarray(labels), np.asarray(answers)
    confidences = np.asarray(confidences, dtype=np.float64)
    wrong = np.flatnonzero((answers >= 0) & (answers != labels))
    wrong = wrong[np.argsort(-confidences[wrong], kind="stable")]
    key = "index" if names is None else "file"
    return [{key: int(i) if names is None else str(names[i]), "label": int(labels[i]), "answer": int(answers[i]),
             "confidence": float(confidences[i])} for i in wrong]


def evaluate_images(network, directory: Path, *, raw: bool = False) -> dict:
    """The report for a folder of labelled images (see the module docstring for its keys)."""
    from mnist_app.predict import classify_files

    items, folder_problems = labelled_images(directory)
    preds = classify_files(network, [it["path"] for it in items], raw=raw)
    labels = [it["label"] for it in items]
    # an image read as a number of several digits has no single answer: counted as not read
    answers = [p.digit if p.ok and p.digit is not None else -1 for p in preds]
    groups = {key: [it.get(key, "") for it in items] for key in ("source", "style") if any(key in it for it in items)}
    rep = report(labels, answers, groups=groups)
    rep["misclassified"] = mistakes(labels, answers, [p.confidence or 0.0 for p in preds], [p.file for p in preds])
    rep["unreadable"] = [{"file": p.file, "error": p.error} for p in preds if not p.ok]
    rep["unreadable_folders"] = [{"folder": str(folder), "error": problem} for folder, problem in folder_problems]
    return rep


def evaluate_mnist(network, images, labels) -> dict:
    """The report for MNIST test images (misclassified items are named by their index)."""
    from mnist_app.predict import normalise

    outputs = network.feedforward(np.ascontiguousarray(images, dtype=network.dtype))
    answers = np.argmax(outputs, axis=1)  # Network.predict's rule
    rep = report(labels, answers)
    rep["misclassified"] = mistakes(labels, answers, normalise(outputs).max(axis=1))
    rep["unreadable"] = []
    rep["unreadable_folders"] = []
    return rep
