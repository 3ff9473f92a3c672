"""Accuracy of a model on labelled data: the MNIST test set or a folder of the user's images.

* :func:`labelled_images` -- a folder's images and their labels: from ``manifest.csv`` when it
  exists (columns ``file,label`` and optionally ``source``, ``style``), else from each file
  name's leading digit (``7_mine.png`` is a 7).
* :func:`report` -- accuracy, per-digit accuracy, the confusion matrix (mnist_app.plot) and a
  breakdown by the manifest's optional columns; an unreadable image (prediction -1) counts as
  wrong and is counted in its own column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mnist_app.errors import ImageError
from mnist_app.image_format import N_CLASSES
from mnist_app.plot import confusion_matrix, unreadable_per_class



def labelled_images(directory: Path) -> list[dict]:
    """``[{"path", "label", "source"?, "style"?}]`` from manifest.csv, else from file names."""
    from mnist_app.preprocess import is_image_file

    if not directory.is_dir():
        raise ImageError(f"{directory}: not a directory")
    manifest = directory / "manifest.csv"
    items: list[dict] = []
    if manifest.is_file():
        try:
            with manifest.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                    raise ImageError(f"{manifest}: needs a header with columns 'file' and 'label'")
                for line, row in enumerate(reader, start=2):
                    label = (row.get("label") or "").strip()
                    if label not in tuple("0123456789"):
                        raise ImageError(f"{manifest}: line {line}: label {label!r} is not a digit 0-9")
                    name = (row.get("file") or "").strip()
                    if not name:
                        raise ImageError(f"{manifest}: line {line}: no file name")
                    item = {"path": directory / name, "label": int(label)}
                    for key in ("source", "style"):
                        if row.get(key):
                            item[key] = row[key]
                    items.append(item)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImageError(f"{manifest}: not a readable UTF-8 CSV file ({exc})") from None
    else:
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and is_image_file(p)):
            if path.name[:1].isdigit():
                items.append({"path": path, "label": int(path.name[0])})
    if not items:
        raise ImageError(f"{directory}: no labelled images (need manifest.csv or files named like 7_x.png)")
    return items


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
        "errors": int((predicted < 0).sum()),
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
