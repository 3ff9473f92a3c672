"""The training loop: exact reproducibility, exact resume, safe interruption, files, command line."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from interrupting import HAS_PROC_MAPS, interrupt_while_starting
from mnist_app.checkpoint import load_checkpoint, read_meta
from mnist_app.data import MNIST
from mnist_app.errors import CheckpointError
from mnist_app.train import (
    PRESETS,
    Reporter,
    TrainConfig,
    TrainingInterrupted,
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
        (784, 30, 10), 30, 10, 3.0, "quadratic", "textbook", 0.0, "float32", 1
    )
    assert (c.momentum, c.schedule, c.patience, c.augment) == (0.0, "none", None, "none")
    for name in PRESETS:
        TrainConfig.from_preset(name).validate()
    assert TrainConfig.from_preset("network2").sizes == (784, 100, 10)
    assert TrainConfig.from_preset("best", epochs=3).epochs == 3
    with pytest.raises(ValueError):
        TrainConfig(eta=-1).validate()


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"eta": -1}, "eta"), ({"eta": float("inf")}, "eta"), ({"eta": float("nan")}, "eta"),
        ({"epochs": 0}, "epochs"), ({"epochs": 2.5}, "epochs"), ({"batch_size": True}, "batch_size"),
        ({"sizes": (784,)}, "sizes"), ({"sizes": (784, 0, 10)}, "sizes"), ({"seed": -5}, "seed"),
        ({"momentum": 1.0}, "momentum"), ({"l2": -0.1}, "l2"), ({"cost": "hinge"}, "cost"),
        ({"schedule": "sometimes"}, "schedule"), ({"augment": "wobble"}, "augment"),
        ({"patience": 0}, "patience"), ({"step_gamma": 0}, "step_gamma"), ({"dtype": "float16"}, "dtype"),
    ],
)
def test_every_setting_is_checked_by_the_one_table(changes: dict, named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named} must be "):
        TrainConfig(**changes).validate()


def test_constraint_table_covers_every_setting_and_its_default() -> None:
    from mnist_app.train import PARAMETER_CONSTRAINTS

    assert set(PARAMETER_CONSTRAINTS) == {f.name for f in dataclasses.fields(TrainConfig)}
    TrainConfig().validate()
    TrainConfig(seed=None, patience=3, augment="all+styles", sizes=(784, np.int64(5), 10)).validate()


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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "accuracy.png", "best.npz", "history.json", "last.npz"]
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
    with pytest.raises(TrainingInterrupted) as excinfo:
        train(config(epochs=5, **changes), DATA, model_dir=tmp_path, reporter=reporter)
    assert reporter.ended == [1, 2]
    # The last completed epoch is intact on disk: a loadable checkpoint, a matching history.
    assert read_meta(tmp_path / "last.npz")["epoch"] == 2
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    partial = excinfo.value.result
    assert partial.interrupted and len(partial.history) == 2
    assert partial.best_epoch == read_meta(tmp_path / "best.npz")["epoch"]
    assert partial.summary()["epochs_completed"] == 2
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
                ["--schedule", "sometimes"], ["--frobnicate"], ["--seed", "-5"], ["--seed", "1.5"],
                ["--eta", "nan"], ["--augment", "wobble"], ["--hidden", "0"]):
        done = run_script(*bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert "usage:" in done.stderr


def test_cli_options_that_contradict_each_other_are_usage_errors(tmp_path: Path, capsys) -> None:
    """`--resume --overwrite` resumed and silently ignored --overwrite; now, like `--resume
    --preset`, it is a usage error naming both, before anything is read."""
    from mnist_app.cli import train as train_cli

    for extra, named in ((["--overwrite"], "--overwrite cannot be combined with --resume"),
                         (["--preset", "improved"], "--preset cannot be combined with --resume")):
        with pytest.raises(SystemExit) as stopped:
            train_cli.main(["--resume", "--model-dir", str(tmp_path / "none"), *extra])
        out, err = capsys.readouterr()
        assert stopped.value.code == 2 and out == "" and err.splitlines()[-1] == f"train.py: error: {named}" + (
            " (one continues the run, the other replaces it)" if extra == ["--overwrite"] else
            " (the checkpoint holds the settings)")


def test_cli_bad_checkpoint_exits_1(tmp_path: Path) -> None:
    (tmp_path / "last.npz").write_bytes(b"PK\x03\x04 not really a zip")
    done = run_script("--resume", "--epochs", "3", "--model-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "last.npz" in done.stderr and "Traceback" not in done.stderr
    done = run_script("--resume", "--model-dir", str(tmp_path / "empty"))
    assert done.returncode == 1 and "no such checkpoint" in done.stderr
    assert not (tmp_path / "empty").exists()  # not created just to say so


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
    assert "eta 3.0 (checkpoint: 0.5) differ" in capsys.readouterr().err


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
    # --resume said "models/last.npz: no such checkpoint file", as if the folder were empty
    done = run_script("--resume", "--model-dir", str(tmp_path / "models"), "--no-default-mirrors",
                      "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and done.stderr == (
        f"train.py: error: {tmp_path / 'models'}: is a file, not a directory (--model-dir names the folder of last.npz)\n")


@pytest.mark.slow
def test_cli_ctrl_c_keeps_the_last_epoch_and_says_so(mnist_mirror_dir: Path, tmp_path: Path) -> None:
    """A real SIGINT during training: exit 130, one message naming the saved epoch, and that epoch
    really is in last.npz, ready for --resume. The folder has a space: the suggested command quotes
    it, so it works as pasted."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--mirror", str(mnist_mirror_dir),
         "--no-default-mirrors", "--data-dir", str(tmp_path / "data"), "--model-dir", str(tmp_path / "m 1"),
         "--seed", "1", "--epochs", "200", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline()  # wait for a completed epoch
    assert first.startswith("Epoch 1/200: "), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    saved = read_meta(tmp_path / "m 1" / "last.npz")["epoch"]
    assert f"epoch {saved} is saved in" in err
    assert f"--resume --model-dir {shlex.quote(str(tmp_path / 'm 1'))} --epochs 200" in err
    assert f"Epoch {saved}/200: " in first + out


# ----------------------------------------------------------------------------- issue 13: trust
def mnist_args(data_dir: Path) -> list[str]:
    """Real MNIST from an already filled data folder, never the internet."""
    return ["--data-dir", str(data_dir), "--no-default-mirrors", "--quiet"]


def run_in(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_next_command_quotes_a_model_dir_with_a_space(mnist_data_dir: Path, tmp_path: Path) -> None:
    """The closing "Next:" line is a command to paste; a --model-dir with a space was printed bare
    and the shell split it into two arguments."""
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--hidden", "5", "--epochs", "1", "--model-dir", "run one")
    assert done.returncode == 0, done.stderr
    assert f"--model {shlex.quote(str(Path('run one') / 'best.npz'))}" in done.stdout


@pytest.mark.slow
def test_cli_readme_command_twice_keeps_both_runs(mnist_data_dir: Path, tmp_path: Path) -> None:
    """Issue 13 B: the README's first command, run twice in one folder, works both times; each run
    has its own numbered folder, models/best.npz is the latest completed run's, and the default
    seed makes the two runs identical."""
    args = [*mnist_args(mnist_data_dir), "--hidden", "5", "--epochs", "2"]
    first = run_in(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    run1 = tmp_path / "models" / "runs" / "001"
    files1 = {p.name: p.read_bytes() for p in run1.iterdir() if not p.name.startswith(".")}
    assert sorted(files1) == ["accuracy.png", "best.npz", "history.json", "last.npz"]
    assert (tmp_path / "models" / "best.npz").read_bytes() == files1["best.npz"]
    assert f"Next: python scripts/predict.py YOUR_DIGIT.png --model {Path('models/runs/001/best.npz')}" in first.stdout

    second = run_in(tmp_path, *args)
    assert second.returncode == 0, second.stderr
    run2 = tmp_path / "models" / "runs" / "002"
    assert {p.name: p.read_bytes() for p in run1.iterdir() if not p.name.startswith(".")} == files1  # untouched
    assert (tmp_path / "models" / "best.npz").read_bytes() == (run2 / "best.npz").read_bytes()
    for name in ("history.json", "last.npz", "accuracy.png"):
        assert (tmp_path / "models" / name).read_bytes() == (run2 / name).read_bytes()
    accuracies = lambda run: [(e["test_correct"], e["validation_accuracy"])  # noqa: E731
                              for e in json.loads((run / "history.json").read_text())["epochs"]]
    assert accuracies(run1) == accuracies(run2)  # seed 1 by default: a repeatable quickstart
    assert json.loads((run2 / "history.json").read_text())["config"]["seed"] == 1

    # --resume without --model-dir continues the latest run; it is complete, so that is refused.
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--resume")
    assert done.returncode == 1 and "runs/002/last.npz: already trained for 2 epochs" in done.stderr
    # --seed random draws (and records) a fresh seed.
    done = run_in(tmp_path, *args, "--epochs", "1", "--seed", "random", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["config"]["seed"] != 1 and summary["model_dir"] == str(Path("models/runs/003"))
    assert summary["published_to"] == "models" and summary["best_model"] == str(Path("models/runs/003/best.npz"))
    # ... and that one-epoch run, resumed, is complete too: "1 epoch", not "1 epochs".
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--resume")
    assert done.returncode == 1 and "runs/003/last.npz: already trained for 1 epoch; pass" in done.stderr


@pytest.mark.slow
def test_cli_second_training_into_a_busy_model_dir_is_refused(mnist_data_dir: Path, tmp_path: Path) -> None:
    """D5: two trainings into one --model-dir at once: the second is refused at once, with a clear
    message, and the first run's files stay its own."""
    import signal
    import time

    model_dir = tmp_path / "m"
    first = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "train.py"), *mnist_args(mnist_data_dir), "--model-dir",
         str(model_dir), "--hidden", "5", "--epochs", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (model_dir / ".lock").is_file() or not (model_dir / ".lock").read_text().strip():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.02)
        for extra in ([], ["--overwrite"], ["--resume", "--epochs", "600"]):
            second = run_in(tmp_path, *mnist_args(mnist_data_dir), "--model-dir", str(model_dir),
                            "--hidden", "7", "--seed", "2", *extra)
            assert second.returncode == 1, (extra, second.stderr)
            assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
            assert f"m: in use by another process (process {first.pid})" in second.stderr
            assert "choose another --model-dir" in second.stderr
        assert first.stdout.readline().startswith("Epoch 1/500: ")
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
        assert first.returncode == 130
        assert read_meta(model_dir / "last.npz")["config"]["sizes"] == [784, 5, 10]
        assert read_meta(model_dir / "best.npz")["config"]["sizes"] == [784, 5, 10]
        # Once the first has ended, the folder is free again.
        done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--model-dir", str(model_dir),
                      "--resume", "--epochs", str(read_meta(model_dir / "last.npz")["epoch"] + 1))
        assert done.returncode == 0, done.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()


@pytest.mark.slow
def test_cli_divergence_stops_with_one_line_and_saves_no_nan(mnist_data_dir: Path, tmp_path: Path) -> None:
    """D14 (the issue's command): a learning rate that overflows the weights stops training with
    one clear line (no numpy warnings), exit 1, and no NaN weights on disk; D22: numpy warnings do
    not reach stderr."""
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--eta", "1e308", "--epochs", "2", "--hidden", "5",
                  "--model-dir", str(tmp_path / "m"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Warning" not in done.stderr and "Traceback" not in done.stderr
    assert "training diverged in epoch 1" in done.stderr and "try a smaller --eta" in done.stderr
    assert "nothing was saved" in done.stderr
    assert not (tmp_path / "m" / "last.npz").exists() and not (tmp_path / "m" / "best.npz").exists()
    # In the default place, the reserved run folder is not left behind empty, and nothing is published.
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--eta", "1e308", "--epochs", "2", "--hidden", "5")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert not list((tmp_path / "models" / "runs").iterdir()) and not (tmp_path / "models" / "best.npz").exists()


def test_divergence_keeps_the_last_finite_epoch(tmp_path: Path) -> None:
    """D14: weight decay with eta * l2 / n = 3 multiplies the weights by -2 every mini-batch: finite for
    a few epochs, then overflowing. Training stops at the first non-finite epoch and keeps the one
    before it, loadable and finite."""
    from mnist_app.errors import TrainingError

    n = len(DATA.train_images)
    with pytest.raises(TrainingError, match=r"training diverged in epoch (\d+)") as excinfo:
        train(config(epochs=40, eta=1.0, l2=3.0 * n, init="textbook"), DATA, model_dir=tmp_path)
    diverged = int(re.search(r"epoch (\d+)", str(excinfo.value)).group(1))
    assert diverged > 1 and f"epoch {diverged - 1} is kept in {tmp_path / 'last.npz'}" in str(excinfo.value)
    network, meta = load_checkpoint(tmp_path / "last.npz")
    assert meta["epoch"] == diverged - 1 and all(np.isfinite(w).all() for w in network.weights)
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == diverged - 1
    assert np.isfinite(read_meta(tmp_path / "best.npz")["history"][-1]["cost"])


class CrashAt(Exception):
    """Stands in for a crash (power loss, kill -9) at one point of the end-of-epoch writes."""


def test_last_npz_is_written_last_so_a_crash_never_leaves_best_behind(tmp_path: Path, monkeypatch) -> None:
    """D18: a crash while the epoch's files are written leaves last.npz one epoch behind (never
    best.npz or history.json), and --resume simply redoes that epoch, bit-identically."""
    import mnist_app.train as train_module

    whole = train(config(epochs=3), DATA)
    real_save = train_module.save_checkpoint

    def crash_on_last_of_epoch_2(path, network, meta=None, **kwargs):
        if Path(path).name == "last.npz" and meta["epoch"] == 2:
            raise CrashAt
        return real_save(path, network, meta, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", crash_on_last_of_epoch_2)
    with pytest.raises(CrashAt):
        train(config(epochs=3), DATA, model_dir=tmp_path)
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    assert read_meta(tmp_path / "last.npz")["epoch"] == 1
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 2  # ahead, never behind
    resumed = train(config(epochs=3), DATA, model_dir=tmp_path, resume=True)
    assert_identical(resumed.network, whole.network)
    assert len(json.loads((tmp_path / "history.json").read_text())["epochs"]) == 3


@pytest.mark.slow
def test_cli_resume_repairs_files_a_crash_left_behind_last_npz(mnist_data_dir: Path, tmp_path: Path) -> None:
    """D18 (files from a version that wrote last.npz first): last.npz holds the final epoch but
    best.npz and history.json are one epoch stale. --resume used to refuse ("already trained"),
    leaving them so; now it rewrites them from last.npz and exits 0."""
    args = [*mnist_args(mnist_data_dir), "--hidden", "5", "--epochs", "2"]
    assert run_in(tmp_path, *args, "--model-dir", "whole").returncode == 0
    assert run_in(tmp_path, *args, "--model-dir", "one", "--epochs", "1").returncode == 0
    whole = tmp_path / "whole"
    assert read_meta(whole / "best.npz")["epoch"] == 2  # (epoch 2 improved on epoch 1)
    for name in ("best.npz", "history.json"):  # the state such a crash leaves
        (whole / name).write_bytes((tmp_path / "one" / name).read_bytes())

    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--model-dir", "whole", "--resume", "--epochs", "2")
    assert done.returncode == 0, done.stderr
    assert "Repaired" in done.stdout and "best.npz" in done.stdout
    last, _ = load_checkpoint(whole / "last.npz")
    best, meta = load_checkpoint(whole / "best.npz")
    assert meta["epoch"] == 2 and all(np.array_equal(a, b) for a, b in zip(best.weights, last.weights))
    assert len(json.loads((whole / "history.json").read_text())["epochs"]) == 2
    # Nothing left to repair: the usual answer.
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--model-dir", "whole", "--resume", "--epochs", "2")
    assert done.returncode == 1 and "already trained for 2 epochs" in done.stderr


@pytest.mark.slow
def test_cli_start_removes_temporaries_a_killed_run_left(mnist_data_dir: Path, tmp_path: Path) -> None:
    """D22: kill -9 during an epoch's writes leaves `.accuracy.png.XXXX.tmp` files; the next run in
    that folder (and a new run beside it) removes them, and nothing else."""
    import signal

    home = tmp_path / "models"
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "train.py"), *mnist_args(mnist_data_dir),
                             "--hidden", "5", "--epochs", "500"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("Epoch 1/500: ")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    run1 = home / "runs" / "001"
    # What a kill -9 in the middle of atomic_write leaves (the timing is too narrow to hit on purpose).
    stale = [run1 / ".accuracy.png.k1ll3d.tmp", run1 / ".last.npz.abc123.tmp", home / ".best.npz.zz.tmp"]
    for path in stale:
        path.write_bytes(b"")
    foreign = run1 / ".notes.tmp"
    foreign.write_text("not ours")

    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--hidden", "5", "--epochs", "1")
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in stale) and foreign.read_text() == "not ours"
    (run1 / ".history.json.x.tmp").write_bytes(b"")
    done = run_in(tmp_path, *mnist_args(mnist_data_dir), "--model-dir", str(run1), "--resume", "--epochs", "2")
    assert done.returncode == 0, done.stderr
    assert not (run1 / ".history.json.x.tmp").exists()
    assert (home / "best.npz").read_bytes() == (run1 / "best.npz").read_bytes()  # resumed run in models/runs


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC_MAPS, reason="needs /proc to see what a process has loaded")
@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.06, 0.1, 0.3])
def test_cli_ctrl_c_while_starting_is_quiet(tmp_path: Path, delay: float) -> None:
    """D22: Ctrl-C in the first few dozen milliseconds -- while our script imports numpy and the
    package, before any handler of ours runs -- exits 130 quietly, never with a traceback (sent
    ``delay`` s after numpy starts loading: tests/interrupting.py)."""
    import signal

    done = interrupt_while_starting([sys.executable, str(REPO / "scripts" / "train.py"), "--no-default-mirrors",
                                     "--data-dir", str(tmp_path / "none"), "--model-dir", str(tmp_path / "m")],
                                    tmp_path, delay)
    err = done.stderr
    assert "Traceback" not in err and err.count("\n") <= 1
    if done.returncode == 1:  # the run got as far as failing to find MNIST before the signal: fine too
        assert "error: no mirrors" in err
    else:
        # 130 from our handler; -SIGINT if the signal came as Python was exiting, after our code (the
        # shell reports that as 130 too).
        assert done.returncode in (130, -signal.SIGINT), (done.returncode, err)


@pytest.mark.slow
def test_cli_ctrl_c_with_json_still_prints_the_summary(mnist_data_dir: Path, tmp_path: Path) -> None:
    """Issue 13 B: with --json an interrupted run still prints its summary object on stdout; the
    hint names the --model-dir to resume."""
    import signal

    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "train.py"), *mnist_args(mnist_data_dir),
                             "--hidden", "5", "--epochs", "500", "--json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("Epoch 1/500: ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["epochs_completed"] >= 1
    assert summary["published_to"] is None and not (tmp_path / "models" / "best.npz").exists()
    run = Path("models") / "runs" / "001"
    assert summary["model_dir"] == str(run)
    assert f"--resume --model-dir {run} --epochs 500" in err


def test_long_runs_get_a_bar_over_the_epochs(capsys) -> None:
    """Issue 13 B: once a run looks longer than a minute, a bar over the epochs shows the overall ETA."""
    import io

    from mnist_app.cli.train import ConsoleReporter

    lines = io.StringIO()
    reporter = ConsoleReporter(lines, progress=True)
    reporter.LONG_RUN = 0.0  # "a minute" for a run of milliseconds
    c = config(epochs=3)
    result = train(c, DATA, reporter=reporter)
    assert lines.getvalue().count("Epoch ") == 3
    err = capsys.readouterr().err
    assert "Training" in err and "/3 [" in err and "epoch" in err
    assert result.history and reporter.overall is None  # closed at the end

    quick = ConsoleReporter(io.StringIO(), progress=True)
    train(config(epochs=2), DATA, reporter=quick)
    assert "Training" not in capsys.readouterr().err  # a short run keeps only the per-epoch bar


def test_help_defaults_come_from_trainconfig(capsys) -> None:
    """Issue 9: the '(default: ...)' of every setting flag is TrainConfig's own default, not typed by hand."""
    from mnist_app.cli.train import NETWORK_FLAGS, NONE_MEANS, TRAINING_FLAGS, build_parser

    text = " ".join(build_parser().format_help().split())
    defaults = TrainConfig()
    for name, _, _ in NETWORK_FLAGS + TRAINING_FLAGS:
        value = getattr(defaults, name)
        shown = NONE_MEANS[name] if value is None else value
        flag = f"--{name.replace('_', '-')}"
        after = text[text.index(f" {flag} "):]
        assert f"(default: {shown})" in after[: after.index(" --", len(flag) + 2)], name
    assert "(default: 1)" in text  # the seed


def test_init_from_starts_at_a_saved_models_weights(tmp_path: Path) -> None:
    first = train(config(epochs=3), DATA, model_dir=tmp_path / "first")
    start = tmp_path / "first" / "best.npz"
    saved, _ = load_checkpoint(start)
    # one epoch at a tiny eta from the saved model stays next to it; from random weights it cannot
    near = train(config(epochs=1, eta=1e-6, init_from=str(start), seed=3), DATA)
    for a, b in zip(near.network.weights, saved.weights):
        assert np.abs(a - b).max() < 1e-3
    assert near.history[0]["test_accuracy"] == pytest.approx(
        np.mean(saved.predict(DATA.test_images) == DATA.test_labels))
    fresh = train(config(epochs=1, eta=1e-6, seed=3), DATA)
    assert np.abs(fresh.network.weights[0] - saved.weights[0]).max() > 0.1
    # repeatable, and recorded in the run's history for --resume and the model card
    again = train(config(epochs=1, eta=1e-6, init_from=str(start), seed=3), DATA)
    assert_identical(near.network, again.network)
    assert first.config.init_from is None and near.config.to_dict()["init_from"] == str(start)
    with pytest.raises(ValueError, match="^init_from must be "):
        config(init_from="").validate()


def test_init_from_takes_a_model_name_as_model_does(tmp_path: Path, monkeypatch) -> None:
    """`--init-from shipped` (docs/results.md's continuation of the shipped model) was "shipped:
    no such checkpoint file": only paths were taken. Now the names --model takes, too."""
    from mnist_app.errors import TrainingError

    with pytest.raises(TrainingError, match="^shipped: layer sizes 784-800-10 differ from the run's 784-6-10$"):
        train(config(init_from="shipped"), DATA)
    monkeypatch.chdir(tmp_path)  # "best" is models/best.npz here
    train(config(epochs=1), DATA, model_dir=tmp_path / "models")
    saved, _ = load_checkpoint(tmp_path / "models" / "best.npz")
    near = train(config(epochs=1, eta=1e-9, init_from="best", seed=3), DATA)
    assert all(np.abs(a - b).max() < 1e-6 for a, b in zip(near.network.weights, saved.weights))
    assert near.config.to_dict()["init_from"] == "best"


def test_init_from_refuses_other_sizes_and_missing_files(tmp_path: Path) -> None:
    from mnist_app.errors import TrainingError

    train(config(epochs=1), DATA, model_dir=tmp_path / "small")
    with pytest.raises(TrainingError, match="layer sizes 784-6-10 differ"):
        train(config(sizes=(784, 7, 10), init_from=str(tmp_path / "small" / "best.npz")), DATA)
    with pytest.raises(CheckpointError, match="nowhere.npz"):
        train(config(init_from=str(tmp_path / "nowhere.npz")), DATA)
    done = run_script("--init-from", str(tmp_path / "small" / "best.npz"), "--hidden", "7", "--epochs", "1",
                      "--model-dir", str(tmp_path / "cli"), "--data-dir", str(tmp_path / "no-data"),
                      "--no-default-mirrors")
    assert done.returncode == 1 and "Traceback" not in done.stderr
