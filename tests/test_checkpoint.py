"""Checkpoints: exact round trips, atomic writes, and one clear error for every kind of bad file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_app import checkpoint
from mnist_app.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    read_meta,
    rng_from_state,
    rng_state,
    save_checkpoint,
)
from mnist_app.errors import CheckpointError
from mnist_app.hostile_checkpoints import npy_bytes, npy_header, rewrite, zeros_member
from mnist_app.network import Network


def small_network(dtype: str = "float32", sizes=(784, 7, 5, 10)) -> Network:
    return Network(sizes, init="scaled", dtype=dtype, rng=3)


def assert_same_parameters(a: Network, b: Network) -> None:
    assert a.sizes == b.sizes and a.dtype == b.dtype
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_exact_and_keeps_meta(tmp_path: Path, dtype: str) -> None:
    network = small_network(dtype)
    meta = {"cost": "cross-entropy", "init": "scaled", "epoch": 4, "history": [{"epoch": 1, "x": 0.5}],
            "data_checksums": {"f.gz": "ab" * 32}}
    save_checkpoint(tmp_path / "m.npz", network, meta)
    loaded, loaded_meta = load_checkpoint(tmp_path / "m.npz")
    assert_same_parameters(network, loaded)
    assert loaded.velocities is None
    assert loaded_meta["format_version"] == FORMAT_VERSION
    assert loaded_meta["sizes"] == [784, 7, 5, 10] and loaded_meta["dtype"] == dtype
    for key, value in meta.items():
        assert loaded_meta[key] == value
    # The loaded network computes exactly what the saved one did.
    x = np.random.default_rng(0).random((3, 784)).astype(dtype)
    assert np.array_equal(network.feedforward(x), loaded.feedforward(x))


def test_round_trip_with_momentum_velocities(tmp_path: Path) -> None:
    network = small_network()
    y = np.eye(10, dtype=np.float32)[[1, 2]]
    network.update_mini_batch(np.full((2, 784), 0.5, np.float32), y, 0.5, momentum=0.9)
    assert network.velocities is not None
    save_checkpoint(tmp_path / "m.npz", network, {})
    loaded, _ = load_checkpoint(tmp_path / "m.npz")
    for v, w in zip(network.velocities, loaded.velocities):
        assert np.array_equal(v, w)



def test_model_without_momentum_buffers_is_smaller_and_predicts_the_same(tmp_path: Path) -> None:
    network = small_network()
    y = np.eye(10, dtype=np.float32)[[1, 2]]
    network.update_mini_batch(np.full((2, 784), 0.5, np.float32), y, 0.5, momentum=0.9)
    save_checkpoint(tmp_path / "last.npz", network, {})
    save_checkpoint(tmp_path / "best.npz", network, {}, momentum=False)
    model, _ = load_checkpoint(tmp_path / "best.npz")
    assert model.velocities is None
    assert_same_parameters(network, model)
    assert (tmp_path / "best.npz").stat().st_size < 0.6 * (tmp_path / "last.npz").stat().st_size

def test_rng_state_survives_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(12345)
    rng.random(7)
    state = json.loads(json.dumps(rng_state(rng)))
    assert np.array_equal(rng_from_state(state).random(5), rng.random(5))


def test_file_is_a_plain_npz_without_pickles(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "m.npz", small_network(), {"epoch": 1})
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(
            ["meta"] + [f"weights_{i}" for i in range(3)] + [f"biases_{i}" for i in range(3)]
        )
        assert json.loads(str(archive["meta"]))["epoch"] == 1


def test_atomic_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_checkpoint(path, small_network(), {"epoch": 1})
    before = path.read_bytes()

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        save_checkpoint(path, small_network(), {"epoch": 2, "bad": Unserialisable()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def _expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_empty_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.npz", "no such")
    (tmp_path / "empty.npz").write_bytes(b"")
    _expect_error(tmp_path / "empty.npz", "empty")
    _expect_error(tmp_path, "directory")


@pytest.mark.parametrize("keep", [0.2, 0.6, 0.95])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "m.npz"
    save_checkpoint(path, small_network(), {})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _expect_error(path)


def test_corrupt_array_data(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_checkpoint(path, small_network(), {})
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = bytes(64)  # damage the weights: the zip CRC no longer matches
    path.write_bytes(bytes(data))
    _expect_error(path)


def test_foreign_files(tmp_path: Path) -> None:
    text = tmp_path / "history.json"
    text.write_text('{"epochs": []}')
    _expect_error(text, "not an .npz")
    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros(3))
    _expect_error(npy, ".npy")
    other = tmp_path / "other.npz"
    np.savez(other, w=np.zeros(3))
    _expect_error(other, "not an mnist_app checkpoint")
    zipped = tmp_path / "zip.npz"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _expect_error(zipped)


def _rewrite(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        if key.startswith("meta_"):
            meta[key[5:]] = value
        elif value is None:
            del arrays[key]
        else:
            arrays[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"meta_format_version": 99}, "version 99"),
        ({"meta_sizes": [784, 7, 10]}, "beyond the 2 layers"),
        ({"meta_sizes": [784, 8, 5, 10]}, "weights_0 has shape (7, 784), expected (8, 784)"),
        ({"meta_sizes": "784-30-10"}, "sizes"),
        ({"meta_dtype": "int8"}, "dtype"),
        ({"weights_1": np.zeros((5, 8), np.float32)}, "weights_1 has shape (5, 8)"),
        ({"biases_0": np.zeros(7, np.float64)}, "dtype float64"),
        ({"biases_2": None}, "missing array 'biases_2'"),
        ({"weights_3": np.zeros((1, 10), np.float32)}, "beyond"),
        ({"weights_0": np.full((7, 784), np.nan, np.float32)}, "NaN"),
    ],
)
def test_inconsistent_contents(tmp_path: Path, changes: dict, fragment: str) -> None:
    path = tmp_path / "m.npz"
    save_checkpoint(path, small_network(), {})
    _rewrite(path, **changes)
    _expect_error(path, fragment)


def test_read_meta_only(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "m.npz", small_network(), {"epoch": 9})
    assert read_meta(tmp_path / "m.npz")["epoch"] == 9


# --------------------------------------------------------------------------- hostile files (issue 13)
# Each file is refused from the zip directory, the .npy headers or the meta before any array is
# inflated (time and memory: scripts/bench_hostile_checkpoints.py, figures in docs/hardening.md).


def _hostile(tmp_path: Path, replace: dict | None = None, extra=None, meta: dict | None = None,
             network: Network | None = None) -> Path:
    """A valid checkpoint rewritten member by member: ``replace`` maps a member name to new
    bytes (None drops it); ``extra(archive)`` adds members; ``meta`` updates the JSON."""
    source, path = tmp_path / "valid.npz", tmp_path / "hostile.npz"
    save_checkpoint(source, network or small_network(), {})
    replace = dict(replace or {})
    if meta is not None:
        with np.load(source, allow_pickle=False) as archive:
            document = json.loads(str(archive["meta"]))
        document.update(meta)
        replace["meta.npy"] = npy_bytes(np.array(json.dumps(document)))
    return rewrite(source, path, replace, extra)


def test_unknown_member_is_refused_without_inflating_it(tmp_path: Path) -> None:
    path = _hostile(tmp_path, extra=lambda a: zeros_member(a, "unused.npy", npy_header((1 << 24,)), 1 << 26))
    _expect_error(path, "not part of a checkpoint: 'unused.npy'")
    path = _hostile(tmp_path, extra=lambda a: a.writestr("../../evil.txt", "x"))
    _expect_error(path, "not part of a checkpoint")


def test_member_inflating_beyond_what_the_meta_allows_is_refused_from_the_zip_directory(tmp_path: Path) -> None:
    path = _hostile(
        tmp_path,
        replace={"weights_0.npy": None},
        extra=lambda a: zeros_member(a, "weights_0.npy", npy_header((1 << 14, 784)), (1 << 14) * 784 * 4),
    )
    _expect_error(path, "weights_0 inflates to", "more than its meta allows")


def test_zip_bomb_of_the_declared_shape_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    network = small_network(sizes=(784, 4000, 10))
    path = _hostile(
        tmp_path,
        network=network,
        replace={"weights_0.npy": None},
        extra=lambda a: zeros_member(a, "weights_0.npy", npy_header((4000, 784)), 4000 * 784 * 4),
    )
    _expect_error(path, "weights_0 inflates", "zip bomb")


def test_npy_header_claiming_a_huge_array_is_refused(tmp_path: Path) -> None:
    path = _hostile(tmp_path, replace={"weights_0.npy": npy_header((100_000, 100_000)) + bytes(64)})
    _expect_error(path, "weights_0 has shape (100000, 100000), expected (7, 784)")


def test_npy_header_disagreeing_with_the_zip_directory_is_refused(tmp_path: Path) -> None:
    trailing = npy_bytes(np.zeros((7, 784), np.float32)) + bytes(1000)
    _expect_error(_hostile(tmp_path, replace={"weights_0.npy": trailing}), "weights_0 is", "header declares")


def test_pickled_member_is_refused_without_unpickling(tmp_path: Path) -> None:
    pickled = npy_header((7, 784), "|O") + b"\x80\x04N."
    _expect_error(_hostile(tmp_path, replace={"weights_0.npy": pickled}), "Python objects")


def test_meta_declaring_a_gigantic_network_is_refused(tmp_path: Path) -> None:
    _expect_error(_hostile(tmp_path, meta={"sizes": [784, 100_000, 100_000, 10]}), "parameters", "at most")


def test_partial_momentum_buffers_are_refused(tmp_path: Path) -> None:
    path = _hostile(tmp_path, extra=lambda a: a.writestr("velocities_0.npy", npy_bytes(np.zeros((7, 784), np.float32))))
    _expect_error(path, "1 momentum arrays")


def test_too_many_members_are_refused_before_the_directory_is_parsed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(checkpoint, "MAX_LAYERS", 2)  # 3 * 2 + 1 = 7 members at most; this file has 7 + 40
    path = _hostile(tmp_path, extra=lambda a: [a.writestr(f"x{i}.npy", b"") for i in range(40)])
    _expect_error(path, "zip directory lists 47 members")


@pytest.mark.parametrize(
    "document, fragment",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": ' + "[" * 100_000, "nested too deeply"),
        ('{"epoch": ' + "1" * 20_000 + "}", "bad JSON"),  # longer than Python's int conversion limit
    ],
)
def test_hostile_meta_json_is_one_line_error(tmp_path: Path, document: str, fragment: str) -> None:
    path = _hostile(tmp_path, replace={"meta.npy": npy_bytes(np.array(document))})
    _expect_error(path, fragment)
    with pytest.raises(CheckpointError, match=fragment):
        read_meta(path)


def test_read_meta_does_not_inflate_the_arrays(tmp_path: Path) -> None:
    # weights_0 would be refused by load_checkpoint; read_meta never looks at it.
    path = _hostile(tmp_path, replace={"weights_0.npy": npy_header((100_000, 100_000))})
    assert read_meta(path)["sizes"] == [784, 7, 5, 10]


@pytest.mark.slow
def test_six_thousand_one_unit_layers_load(tmp_path: Path) -> None:
    # Checking members is linear in the number of layers (it was quadratic: 21-34 s here).
    network = small_network(sizes=(784,) + (1,) * 6000 + (10,))
    save_checkpoint(tmp_path / "tall.npz", network, {})
    loaded, meta = load_checkpoint(tmp_path / "tall.npz")
    assert len(meta["sizes"]) == 6002
    assert_same_parameters(network, loaded)


def test_more_layers_than_the_limit_are_refused_from_the_meta(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(checkpoint, "MAX_LAYERS", 2)
    _expect_error(_hostile(tmp_path), "3 layers", "at most 2")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_or_device_named_like_a_checkpoint_is_refused_at_once(tmp_path):
    """`predict.py x.png --model m.npz` and `train.py --resume` on a named pipe waited forever for a
    writer (a symlink to /dev/zero would be read without end). Real processes, bounded in time."""
    os.mkfifo(tmp_path / "m.npz")
    (tmp_path / "z.npz").symlink_to("/dev/zero")
    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "last.npz")
    Image.new("L", (28, 28), 0).save(tmp_path / "x.png")
    script = Path(__file__).resolve().parent.parent / "scripts"
    for args in (["predict.py", "x.png", "--model", "m.npz"], ["predict.py", "x.png", "--model", "z.npz"],
                 ["train.py", "--resume", "--model-dir", "run"]):
        done = subprocess.run([sys.executable, str(script / args[0]), *args[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, (args, done.stderr)
        assert "is not a regular file (a pipe or device?)" in done.stderr and "Traceback" not in done.stderr
