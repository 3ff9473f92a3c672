"""Teach a trained network your own handwriting: fine-tune it on a folder of labelled digits.

The recipe (why each part is there; the measurements are in docs/finetune.md):

* Start from a trained network (the shipped 784-800-10 model, or any checkpoint) and keep its
  weights as the starting point: a few hundred of your digits cannot teach a network to read
  from scratch, but they can move a good one towards your style.
* Show each of your digits many times, each time with fresh random distortions (the affine,
  elastic and thickness distortions of mnist_app.augment), so the network learns your *style*
  rather than your particular pictures.
* Mix MNIST training digits into every pass (``mnist_ratio`` of them per user digit), so the
  network does not forget how everybody else writes (catastrophic forgetting).
* The same SGD, cost and regularisation the shipped model was trained with (cross-entropy,
  L2, momentum; mnist_app.network), at a smaller learning rate.

Honest figures: the accuracy "after" is cross-validated. The user's digits are split into
``folds`` parts; for each part a network is fine-tuned on the others and tested on it, so no
digit is judged by a network that trained on it. The model that is saved is fine-tuned on all
of them. "Before" is the starting network on the same digits.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mnist_app import models
from mnist_app.augment import augment_batch
from mnist_app.checkpoint import save_checkpoint
from mnist_app.errors import ImageError, MnistAppError, OutputError
from mnist_app.fast_sgd import sgd_epoch
from mnist_app.fileio import atomic_write, ensure_directory, lock_directory
from mnist_app.image_format import N_CLASSES
from mnist_app.network import CrossEntropyCost, one_hot

# A card lists every image it was tuned on (about 150 bytes each): a "card" larger than this is
# some other file, not read to find out.
CARD_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """How a fine-tune trains. The defaults are the ones measured in docs/finetune.md."""

    presentations: int = 80  # times each user digit is shown (each time freshly distorted)
    max_user_examples: int = 16_000  # cap on presentations x digits, so big folders stay fast
    passes: int = 5  # the presentations are spread over this many shuffled passes
    mnist_ratio: float = 2.0  # MNIST training digits mixed in per user digit shown
    eta: float = 0.05
    batch_size: int = 20
    l2: float = 1.0
    momentum: float = 0.5
    augment: str = "affine+elastic+thickness"  # for the user's digits
    mnist_augment: str = "affine"  # for the mixed-in MNIST digits
    folds: int = 5  # cross-validation folds for the "after" accuracy
    seed: int = 1

    def check(self) -> None:
        """ValueError naming the first setting out of range."""
        positive = {"presentations": self.presentations, "max_user_examples": self.max_user_examples,
                    "passes": self.passes, "batch_size": self.batch_size}
        for name, value in positive.items():
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not self.eta > 0:
            raise ValueError(f"eta must be > 0, got {self.eta}")
        if self.mnist_ratio < 0 or self.l2 < 0 or not 0 <= self.momentum < 1:
            raise ValueError("mnist_ratio and l2 must be >= 0 and momentum in [0, 1)")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")


@dataclass
class UserDigits:
    """The usable digits of a folder, each distinct image once."""

    vectors: np.ndarray  # (N, 784) float32, as preprocess makes them for the network
    labels: np.ndarray  # (N,) int64
    files: list[Path]
    sha256: list[str]  # of each file's bytes, for the model card
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or folder, problem)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, same pixels as file)

    def __len__(self) -> int:
        return len(self.labels)

    def per_digit(self) -> list[int]:
        return np.bincount(self.labels, minlength=N_CLASSES).tolist()


def read_user_digits(directory: str | Path) -> UserDigits:
    """Read a folder of labelled digit images the way ``evaluate.py --images`` does.

    Unreadable images and bad manifest rows are skipped and listed; images with the same pixels
    (after preprocessing) are kept once and listed. ImageError if nothing usable is left.
    """
    from mnist_app.evaluate import labelled_images
    from mnist_app.preprocess import prepare

    directory = Path(directory)
    items, problems = labelled_images(directory, skip_bad_rows=True)
    skipped = [(str(where), problem) for where, problem in problems]
    vectors, labels, files, sums = [], [], [], []
    first_with: dict[bytes, str] = {}
    duplicates: list[tuple[str, str]] = []
    for item in items:
        path = item["path"]
        try:
            vector = prepare(path).vector
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except MnistAppError as exc:
            skipped.append((str(path), str(exc)))
            continue
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:  # decoder surprises stay per file
            skipped.append((str(path), f"{path}: cannot process image ({type(exc).__name__})"))
            continue
        key = vector.astype(np.float32).tobytes()
        if key in first_with:
            duplicates.append((str(path), first_with[key]))
            continue
        first_with[key] = str(path)
        vectors.append(vector)
        labels.append(item["label"])
        files.append(path)
        sums.append(digest)
    if not vectors:
        reason = f": {skipped[0][1]}" if skipped else ""
        raise ImageError(f"{directory}: no usable labelled digit image{reason}")
    return UserDigits(np.stack(vectors).astype(np.float32), np.asarray(labels, dtype=np.int64), files, sums,
                      skipped, duplicates)


def passes_plan(n_user: int, settings: Settings) -> list[int]:
    """How many times each user digit is shown in each pass (the presentations, capped)."""
    total = max(1, min(settings.presentations, settings.max_user_examples // max(n_user, 1)))
    base, extra = divmod(total, settings.passes)
    return [base + (1 if p < extra else 0) for p in range(settings.passes) if base + (p < extra) > 0]


def steps(n_user: int, settings: Settings) -> int:
    """Examples one fine-tune trains on (user digits shown + MNIST digits mixed in)."""
    shown = sum(passes_plan(n_user, settings)) * n_user
    return shown + int(round(shown * settings.mnist_ratio))


def finetune(
    base,
    X: np.ndarray,
    y: np.ndarray,
    mnist_X: np.ndarray,
    mnist_y: np.ndarray,
    settings: Settings,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
):
    """A copy of ``base`` trained on the user's digits (X, y) mixed with MNIST (see the module
    docstring); ``base`` itself is not changed. ``progress(n)`` hears of every n examples done."""
    network = copy.deepcopy(base)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    for repeats in passes_plan(len(y), settings):
        user = augment_batch(np.repeat(X, repeats, axis=0), rng, kind=settings.augment)
        user_labels = np.repeat(y, repeats)
        n_mnist = int(round(len(user_labels) * settings.mnist_ratio))
        pick = rng.integers(0, len(mnist_y), n_mnist)
        mixed = mnist_X[pick]
        if settings.mnist_augment:
            mixed = augment_batch(mixed, rng, kind=settings.mnist_augment)
        images = np.concatenate([user, mixed]).astype(network.dtype, copy=False)
        targets = one_hot(np.concatenate([user_labels, mnist_y[pick]]), N_CLASSES, dtype=network.dtype)
        sgd_epoch(
            network, images, targets, settings.eta, settings.batch_size, order=rng.permutation(len(images)),
            cost=CrossEntropyCost, l2=settings.l2, n_train=len(mnist_y), momentum=settings.momentum,
        )
        if progress is not None:
            progress(len(images))
    return network


def fold_of(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number per digit, each digit's images dealt round the folds (stratified)."""
    assignment = np.empty(len(labels), dtype=np.int64)
    start = 0
    for digit in range(N_CLASSES):
        members = np.flatnonzero(labels == digit)
        members = members[rng.permutation(len(members))]
        assignment[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next digit's first image goes to the next fold
    return assignment


def accuracy(network, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(network.predict(np.asarray(X, dtype=network.dtype)) == y)) if len(y) else float("nan")


def few_shot(base, X: np.ndarray, y: np.ndarray, members: np.ndarray, k: int, draws: int, mnist,
             settings: Settings) -> dict[str, list[float]] | None:
    """Few-shot adaptation, measured (scripts/measure_finetune.py, docs/finetune.md): ``draws``
    times (draw d seeded d), fine-tune ``base`` on k random images per digit of ``members``
    (indices into X, y) and test on the group's other images. Per draw: ``before``/``after`` (the
    held-out accuracy), ``mnist_after`` (MNIST test after) and ``seconds`` (CPU time of the
    fine-tune). None when some digit has k images or fewer: nothing of it would be held out."""
    if any(np.sum(y[members] == d) <= k for d in range(N_CLASSES)):
        return None
    measured: dict[str, list[float]] = {"before": [], "after": [], "mnist_after": [], "seconds": []}
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        train = np.concatenate([rng.choice(members[y[members] == d], k, replace=False) for d in range(N_CLASSES)])
        test = np.setdiff1d(members, train)
        started = time.process_time()
        tuned = finetune(base, X[train], y[train], mnist.train_images, mnist.train_labels, settings, rng)
        measured["seconds"].append(time.process_time() - started)
        measured["before"].append(accuracy(base, X[test], y[test]))
        measured["after"].append(accuracy(tuned, X[test], y[test]))
        measured["mnist_after"].append(accuracy(tuned, mnist.test_images, mnist.test_labels))
    return measured


@dataclass
class Report:
    """What a fine-tune measured: fractions in [0, 1], None where it could not be measured."""

    n_images: int
    per_digit: list[int]
    user_before: float
    user_after_cv: float | None  # None: too few digits to cross-validate
    folds: int | None
    mnist_test_before: float
    mnist_test_after: float
    seconds: float

    def to_json(self) -> dict:
        return asdict(self)


def cross_validated_accuracy(base, user: UserDigits, mnist_X, mnist_y, settings: Settings,
                             rng: np.random.Generator, progress=None) -> tuple[float | None, int | None]:
    """Accuracy on the user's digits of networks fine-tuned without them (see module docstring);
    ``(None, None)`` when there are fewer digits than folds."""
    n, folds = len(user), settings.folds
    if n < folds:
        return None, None
    fold = fold_of(user.labels, folds, rng)
    correct = 0
    for k in range(folds):
        train, test = fold != k, fold == k
        network = finetune(base, user.vectors[train], user.labels[train], mnist_X, mnist_y, settings, rng, progress)
        correct += int(np.sum(network.predict(user.vectors[test].astype(network.dtype)) == user.labels[test]))
    return correct / n, folds


def total_examples(n_user: int, settings: Settings) -> int:
    """Examples the whole run trains on (cross-validation folds and the final model): for a
    progress bar."""
    total = steps(n_user, settings)
    if n_user >= settings.folds:
        per_fold = n_user - n_user // settings.folds  # roughly: the digits outside one fold
        total += settings.folds * steps(per_fold, settings)
    return total


@dataclass
class Outcome:
    """A finished fine-tune: what was measured and where the model and its card went."""

    report: Report
    user: UserDigits
    base: object  # mnist_app.models.ModelInfo of the starting network
    model_path: Path
    card_path: Path


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def out_name_problem(name: str | Path) -> str | None:
    """Why ``name`` cannot name a fine-tuned model, or None: models are .npz files, and the card
    goes beside it as .json (``--out mine.json`` had the card written over the model)."""
    if Path(name).suffix.lower() != ".npz":
        return "a model is saved as .npz (its card beside it as .json); give a name ending in .npz"
    return None


def check_out(out_path: Path, base_path: str | Path) -> None:
    """Refuse (OutputError, before any work) an ``out_path`` the model and its card cannot be
    saved to without loss: a name not ending in .npz, the base model, a folder (or a place under
    a file, or one we cannot write to), or an existing file that is not a model (resp. a card) --
    an earlier fine-tune's model and card are replaced, as a rerun should."""
    problem = out_name_problem(out_path)
    if problem:
        raise OutputError(f"{out_path}: {problem}")
    if out_path.exists() and out_path.resolve() == Path(base_path).resolve():
        raise OutputError(f"{out_path}: is the base model; the base model is never written over (choose another --out)")
    ensure_directory(out_path.parent)
    for path, what, ours in ((out_path, "a model", _is_model), (card_path_for(out_path), "a fine-tune card", _is_card)):
        if path.is_dir():
            raise OutputError(f"{path}: is a directory; give a file name")
        if path.exists() and not (path.is_file() and ours(path)):  # a FIFO is never opened
            raise OutputError(f"{path}: exists and is not {what} written by mnist_app; refusing to overwrite it "
                              "(choose another --out)")


def _is_model(path: Path) -> bool:
    from mnist_app.checkpoint import read_meta

    try:
        read_meta(path)
    except MnistAppError:
        return False
    return True


def _is_card(path: Path) -> bool:
    try:
        if path.stat().st_size > CARD_MAX_BYTES:
            return False
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(card, dict) and {"base", "results", "settings"} <= card.keys()


def personalise(
    directory: str | Path,
    load_mnist: Callable[[], object],
    *,
    base: str | None = None,
    out: str | Path | None = None,
    settings: Settings = Settings(),
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[UserDigits, object], None] | None = None,
) -> Outcome:
    """Fine-tune the model ``base`` names (mnist_app.models; default: the one predict.py uses) on
    the labelled digits in ``directory`` and save it to ``out`` (default models/personal.npz)
    with a card beside it (``.json``). ``load_mnist()`` returns a mnist_app.data.MNIST; it is
    called only once the folder and the base model have been read, so that a mistyped folder is
    reported before MNIST is downloaded. The base model's file is only read.
    ``on_start(user, base_info)`` is called once the inputs are read."""
    settings.check()
    started = time.perf_counter()
    user = read_user_digits(directory)
    network, _meta, info = models.load(base)
    out_path = Path(out) if out is not None else models.LOCAL_FILES[models.PERSONAL]
    check_out(out_path, info.path)
    loading = time.perf_counter()
    mnist = load_mnist()
    started += time.perf_counter() - loading  # the report's seconds are the fine-tune's, not MNIST's download
    if on_start is not None:
        on_start(user, info)
    rng = np.random.default_rng(settings.seed)
    test_X = mnist.test_images.astype(network.dtype, copy=False)
    before_user = accuracy(network, user.vectors, user.labels)
    before_mnist = accuracy(network, test_X, mnist.test_labels)
    after_cv, folds = cross_validated_accuracy(network, user, mnist.train_images, mnist.train_labels, settings, rng,
                                               progress)
    tuned = finetune(network, user.vectors, user.labels, mnist.train_images, mnist.train_labels, settings, rng,
                     progress)
    report = Report(
        n_images=len(user),
        per_digit=user.per_digit(),
        user_before=before_user,
        user_after_cv=after_cv,
        folds=folds,
        mnist_test_before=before_mnist,
        mnist_test_after=accuracy(tuned, test_X, mnist.test_labels),
        seconds=round(time.perf_counter() - started, 2),
    )
    base_card = {"model": info.describe(), "path": str(info.path), "sha256": _sha256(Path(info.path))}
    meta = {"mnist_test_accuracy": report.mnist_test_after, "fine_tuned_from": base_card,
            "fine_tune": {"settings": asdict(settings), "results": report.to_json()}}
    card = {
        "name": "personal model (fine-tuned on your digits)",
        "base": base_card,
        "images": [{"file": str(f), "label": int(lbl), "sha256": h}
                   for f, lbl, h in zip(user.files, user.labels, user.sha256)],
        "skipped": [{"file": f, "problem": p} for f, p in user.skipped],
        "duplicates": [{"file": f, "same_pixels_as": g} for f, g in user.duplicates],
        "settings": asdict(settings),
        "results": report.to_json(),
    }
    ensure_directory(out_path.parent)
    with lock_directory(out_path.parent, name=f".{out_path.name}.lock"):
        save_checkpoint(out_path, tuned, meta, momentum=False)
        card["file"] = str(out_path)
        card["file_sha256"] = _sha256(out_path)
        with atomic_write(card_path_for(out_path), "w") as handle:
            handle.write(json.dumps(card, indent=2) + "\n")
    return Outcome(report, user, info, out_path, card_path_for(out_path))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "Outcome", "Report", "Settings", "UserDigits", "accuracy", "check_out", "cross_validated_accuracy", "few_shot",
    "finetune", "fold_of", "out_name_problem", "personalise", "read_user_digits", "total_examples",
]
