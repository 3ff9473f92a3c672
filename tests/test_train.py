"""The training loop: exact reproducibility, exact resume, safe interruption, files, command line."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_app.checkpoint import load_checkpoint, read_meta
from mnist_app.data import MNIST
from mnist_app.errors import CheckpointError
from mnist_app.train import (
    PRESETS,
    Reporter,
    TrainConfig,
    format_epoch_line,
    learning_rate,
    train,
)

REPO = Path(__file__).resolve().parent.parent


def tiny_mnist(n_train: int = 205, seed: int = 0) -> MNIST:
    """MNIST-shaped synthetic data: 10 random 'prototype digits' plus noise, a few hundred
    images, so a run takes milliseconds."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, 784)) < 0.15).astype(float)  # sparse, clearly different "digits"

    def split(n: int):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.clip(prototypes[labels] + 0.3 * rng.standard_normal((n, 784)), 0, 1).astype(np.float32)
        return images, labels

    (a, b), (c, d), (e, f) = split(n_train), split(60), split(60)
    return MNIST(a, b, c, d, e, f, {"train-images-idx3-ubyte.gz": "0" * 64})


DATA = tiny_mnist()  # 205 images: the last mini-batch of 10 is a short one (5 images)


def config(**changes) -> TrainConfig:
    base = dict(sizes=(784, 6, 10), epochs=4, batch_size=10, eta=1.0, init="scaled", seed=7)
    return TrainConfig(**{**base, **changes})


def parameters(network) -> list[np.ndarray]:
    return list(network.weights) + list(network.biases) + list(network.velocities or [])


def assert_identical(a, b) -> None:
    pa, pb = parameters(a), parameters(b)
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb):
        assert np.array_equal(x, y)


class InterruptAt(Reporter):
    """Raises KeyboardInterrupt (like Ctrl-C) part-way through ``epoch``."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.ended: list[int] = []

    def on_batches(self, epoch: int, done: int, total: int) -> None:
        if epoch == self.epoch and done >= total // 2:
            raise KeyboardInterrupt

    def on_epoch_end(self, record, config) -> None:
        self.ended.append(record["epoch"])


def test_defaults_are_the_textbooks() -> None:
    c = TrainConfig()
    assert (c.sizes, c.epochs, c.batch_size, c.eta, c.cost, c.init, c.l2, c.dtype, c.seed) == (
        (784, 30, 10), 30, 10, 3.0, "quadratic", "textbook", 0.0, "float32", None
    )
    assert (c.momentum, c.schedule, c.patience, c.augment) == (0.0, "none", None, "none")
    for name in PRESETS:
        TrainConfig.from_preset(name).validate()
    assert TrainConfig.from_preset("network2").sizes == (784, 100, 10)
    assert TrainConfig.from_preset("best", epochs=3).epochs == 3
    with pytest.raises(ValueError):
        TrainConfig(eta=-1).validate()


def test_epoch_line_format() -> None:
    record = {"epoch": 3, "test_correct": 9412, "test_total": 10000, "test_accuracy": 0.9412,
              "validation_accuracy": 0.946, "seconds": 0.2149}
    assert format_epoch_line(record, 30) == "Epoch 3/30: 9,412 / 10,000 test (94.12%), validation 94.60%, 0.21 s"


def test_learns_and_same_seed_gives_same_run() -> None:
    first = train(config(), DATA)
    second = train(config(), DATA)
    accuracies = [(e["test_accuracy"], e["validation_accuracy"], e["cost"]) for e in first.history]
    assert accuracies == [(e["test_accuracy"], e["validation_accuracy"], e["cost"]) for e in second.history]
    assert_identical(first.network, second.network)
    assert first.history[-1]["test_accuracy"] > 0.5  # 10 well-separated classes: chance is 0.1
    other = train(config(seed=8), DATA)
    assert not np.array_equal(other.network.weights[0], first.network.weights[0])


def test_unseeded_run_records_its_seed() -> None:
    result = train(config(seed=None, epochs=1), DATA)
    assert isinstance(result.config.seed, int)
    again = train(dataclasses.replace(result.config), DATA)
    assert_identical(result.network, again.network)


def test_files_written_every_epoch(tmp_path: Path) -> None:
    result = train(config(epochs=3), DATA, model_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png", "best.npz", "history.json", "last.npz"]
    assert (tmp_path / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["config"]["sizes"] == [784, 6, 10] and history["config"]["seed"] == 7
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    for entry in history["epochs"]:
        for key in ("test_accuracy", "validation_accuracy"):
            assert 0.0 <= entry[key] <= 1.0
        assert entry["cost"] > 0 and entry["seconds"] >= 0
        assert set(entry["timing"]) == {"augment", "sgd", "evaluate"}
        assert abs(sum(entry["timing"].values()) - entry["seconds"]) < 1e-3
    last, meta = load_checkpoint(tmp_path / "last.npz")
    assert_identical(last, result.network)
    assert meta["epoch"] == 3 and meta["cost"] == "quadratic" and meta["init"] == "scaled"
    assert meta["config"] == history["config"] and meta["history"] == history["epochs"]
    assert meta["data_checksums"] == DATA.checksums and meta["rng_state"]["bit_generator"] == "PCG64"
    best_meta = read_meta(tmp_path / "best.npz")
    best_val = max(e["validation_accuracy"] for e in history["epochs"])
    assert best_meta["history"][-1]["validation_accuracy"] == best_val
    assert best_meta["epoch"] == result.best_epoch


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"momentum": 0.8, "cost": "cross-entropy", "init": "textbook", "l2": 2.0, "schedule": "step", "step_size": 2},
        {"schedule": "halve-on-plateau", "plateau_patience": 1, "dtype": "float64"},
        {"schedule": "cosine", "batch_size": 32},
    ],
)
def test_interrupt_then_resume_equals_uninterrupted(tmp_path: Path, changes: dict) -> None:
    whole = train(config(epochs=5, **changes), DATA)

    reporter = InterruptAt(epoch=3)
    with pytest.raises(KeyboardInterrupt):
        train(config(epochs=5, **changes), DATA, model_dir=tmp_path, reporter=reporter)
    assert reporter.ended == [1, 2]
    # The last completed epoch is intact on disk: a loadable checkpoint, a matching history.
    assert read_meta(tmp_path / "last.npz")["epoch"] == 2
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    if changes.get("schedule") != "cosine":  # (a cosine schedule depends on the total epochs)
        two = train(config(epochs=2, **changes), DATA)
        assert_identical(load_checkpoint(tmp_path / "last.npz")[0], two.network)

    resumed = train(config(epochs=5, **changes), DATA, model_dir=tmp_path, resume=True)
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3, 4, 5]
    assert_identical(resumed.network, whole.network)
    strip = lambda h: [{k: v for k, v in e.items() if k not in ("seconds", "timing")} for e in h]  # noqa: E731
    assert strip(resumed.history) == strip(whole.history)


def test_resume_in_several_steps(tmp_path: Path) -> None:
    whole = train(config(epochs=4, momentum=0.5), DATA)
    train(config(epochs=1, momentum=0.5), DATA, model_dir=tmp_path)
    train(config(epochs=3), DATA, model_dir=tmp_path, resume=True)  # settings come from the checkpoint
    resumed = train(config(epochs=4), DATA, model_dir=tmp_path, resume=True)
    assert resumed.config.momentum == 0.5
    assert_identical(resumed.network, whole.network)


def test_resume_with_augmentation(tmp_path: Path) -> None:
    whole = train(config(epochs=3, augment="affine"), DATA)
    with pytest.raises(KeyboardInterrupt):
        train(config(epochs=3, augment="affine"), DATA, model_dir=tmp_path, reporter=InterruptAt(2))
    resumed = train(config(epochs=3), DATA, model_dir=tmp_path, resume=True)
    assert_identical(resumed.network, whole.network)


def test_resume_refuses_bad_or_foreign_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such"):
        train(config(), DATA, model_dir=tmp_path, resume=True)
    train(config(epochs=1), DATA, model_dir=tmp_path)
    other = dataclasses.replace(DATA, checksums={"train-images-idx3-ubyte.gz": "f" * 64})
    with pytest.raises(CheckpointError, match="different MNIST"):
        train(config(), other, model_dir=tmp_path, resume=True)
    (tmp_path / "last.npz").write_bytes((tmp_path / "last.npz").read_bytes()[:500])
    with pytest.raises(CheckpointError, match="last.npz"):
        train(config(), DATA, model_dir=tmp_path, resume=True)


def test_early_stopping() -> None:
    # A learning rate too small to change any prediction: validation never improves after epoch 1.
    result = train(config(epochs=10, eta=1e-9, patience=2), DATA)
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 1


def test_learning_rate_schedules() -> None:
    c = TrainConfig(eta=1.0, epochs=10, schedule="step", step_size=3, step_gamma=0.5)
    assert [learning_rate(c, e, []) for e in (1, 3, 4, 7)] == [1.0, 1.0, 0.5, 0.25]
    c = TrainConfig(eta=2.0, epochs=4, schedule="cosine")
    assert learning_rate(c, 1, []) == 2.0 and learning_rate(c, 3, []) == pytest.approx(1.0)
    c = TrainConfig(eta=1.0, schedule="halve-on-plateau", plateau_patience=2)
    h = [{"eta": 1.0, "validation_accuracy": v} for v in (0.5, 0.6, 0.6)]
    assert learning_rate(c, 4, h) == 1.0  # one epoch without improvement
    h.append({"eta": 1.0, "validation_accuracy": 0.55})
    assert learning_rate(c, 5, h) == 0.5  # two: halve
    h.append({"eta": 0.5, "validation_accuracy": 0.55})
    assert learning_rate(c, 6, h) == 0.5  # patience restarts after a halving
    h.append({"eta": 0.5, "validation_accuracy": 0.58})
    assert learning_rate(c, 7, h) == 0.25


# ----------------------------------------------------------------------------- command line
def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_help_and_usage_errors() -> None:
    done = run_script("--help")
    assert done.returncode == 0 and "examples:" in done.stdout and "--preset" in done.stdout
    for bad in (["--epochs", "0"], ["--cost", "hinge"], ["--eta", "-1"], ["--hidden"], ["--momentum", "1.5"],
                ["--schedule", "sometimes"], ["--frobnicate"]):
        done = run_script(*bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert "usage:" in done.stderr


def test_cli_bad_checkpoint_exits_1(tmp_path: Path) -> None:
    (tmp_path / "last.npz").write_bytes(b"PK\x03\x04 not really a zip")
    done = run_script("--resume", "--epochs", "3", "--model-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "last.npz" in done.stderr and "Traceback" not in done.stderr
    done = run_script("--resume", "--model-dir", str(tmp_path / "empty"))
    assert done.returncode == 1 and "no such checkpoint" in done.stderr


@pytest.mark.slow
def test_cli_real_mnist_run_and_resume(mnist_mirror_dir: Path, tmp_path: Path, capsys) -> None:
    from mnist_app.cli.train import main

    data_dir, models = tmp_path / "data", tmp_path / "models"
    common = ["--mirror", str(mnist_mirror_dir), "--data-dir", str(data_dir), "--model-dir", str(models), "--quiet"]
    assert main([*common, "--hidden", "8", "--epochs", "1", "--seed", "3", "--cost", "cross-entropy",
                 "--init", "scaled", "--eta", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/1: ") and " / 10,000 test (" in out
    assert main([*common, "--resume", "--epochs", "2", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["epochs_completed"] == 2 and summary["config"]["sizes"] == [784, 8, 10]
    assert summary["final_test_accuracy"] > 0.85
    assert summary["seconds_by_part"]["sgd"] > 0 and summary["seconds_by_part"]["augment"] == 0
    assert "Epoch 2/2: " in captured.err
    # Contradicting the checkpoint's settings on --resume is an error, not a silent change.
    assert main([*common, "--resume", "--epochs", "3", "--eta", "3"]) == 1
    assert "--eta" in capsys.readouterr().err


def test_ctrl_c_during_epoch_end_writes_is_deferred(tmp_path: Path, monkeypatch) -> None:
    """A SIGINT arriving while an epoch's files are written is held back until they all are."""
    import os
    import signal

    import mnist_app.plot

    def plot_then_sigint(self, epochs, path):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the end-of-epoch writes

    monkeypatch.setattr(mnist_app.plot.AccuracyPlot, "save", plot_then_sigint)
    handler_before = signal.getsignal(signal.SIGINT)
    reporter = InterruptAt(epoch=99)
    with pytest.raises(KeyboardInterrupt):
        train(config(epochs=3), DATA, model_dir=tmp_path, reporter=reporter)
    assert reporter.ended == [1]  # the epoch-1 line was still reported, then training stopped
    assert read_meta(tmp_path / "last.npz")["epoch"] == 1
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 1
    assert signal.getsignal(signal.SIGINT) is handler_before  # our temporary handler is gone


def test_cli_offline_with_unreachable_mirror_fails_cleanly(tmp_path: Path) -> None:
    """--no-default-mirrors: only the given mirror is tried (never the public internet); when it
    is unreachable the command says so on stderr and exits 1, leaving no data files behind."""
    from http_fixtures import closed_port_url

    data_dir = tmp_path / "data"
    done = run_script("--mirror", closed_port_url(), "--no-default-mirrors", "--data-dir", str(data_dir),
                      "--model-dir", str(tmp_path / "models"), "--quiet")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "127.0.0.1" in done.stderr
    assert not [p for p in data_dir.glob("*") if p.name.endswith(".gz")]


def test_cli_refuses_to_overwrite_a_previous_run(tmp_path: Path) -> None:
    """A new run in a folder that holds one is refused (before loading any data), not silently
    replacing someone's trained model; --resume continues it, --overwrite replaces it."""
    (tmp_path / "last.npz").write_bytes(b"a previous run")
    done = run_script("--model-dir", str(tmp_path), "--no-default-mirrors", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "last.npz: a previous run is saved here" in done.stderr and "--overwrite" in done.stderr
    assert (tmp_path / "last.npz").read_bytes() == b"a previous run"


def test_cli_model_dir_that_is_a_file_fails_before_loading_data(tmp_path: Path) -> None:
    (tmp_path / "models").write_text("not a folder")
    done = run_script("--model-dir", str(tmp_path / "models"), "--no-default-mirrors",
                      "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "models: is a file, not a directory" in done.stderr


@pytest.mark.slow
def test_cli_ctrl_c_keeps_the_last_epoch_and_says_so(mnist_mirror_dir: Path, tmp_path: Path) -> None:
    """A real SIGINT during training: exit 130, one message naming the saved epoch, and that epoch
    really is in last.npz, ready for --resume."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--mirror", str(mnist_mirror_dir),
         "--no-default-mirrors", "--data-dir", str(tmp_path / "data"), "--model-dir", str(tmp_path / "m"),
         "--seed", "1", "--epochs", "200", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline()  # wait for a completed epoch
    assert first.startswith("Epoch 1/200: "), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    saved = read_meta(tmp_path / "m" / "last.npz")["epoch"]
    assert f"epoch {saved} is saved in" in err and "--resume --epochs 200" in err
    assert f"Epoch {saved}/200: " in first + out
