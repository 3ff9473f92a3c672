"""mnist_app.merge and scripts/merge_models.py: several networks saved as one whose output
log-odds are the mean of the members' (the shipped model is made this way)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_app import models
from mnist_app.checkpoint import load_checkpoint, save_checkpoint
from mnist_app.merge import mean_of_weights, merge_networks
from mnist_app.network import Network

REPO = Path(__file__).resolve().parent.parent


def log_odds(network, X) -> np.ndarray:
    a = network.feedforward(X).astype(np.float64)
    return np.log(a / (1 - a))


@pytest.mark.parametrize("shapes", [
    [(784, 10), (784, 10)],  # no hidden layer
    [(784, 30, 10), (784, 7, 10), (784, 5, 10)],  # hidden layers of different widths
    [(784, 5, 4, 10), (784, 3, 6, 10)],  # two hidden layers: block-diagonal between them
])
def test_merged_output_is_the_mean_log_odds_of_the_members(shapes, mnist):
    members = [Network(s, init="scaled", rng=seed) for seed, s in enumerate(shapes, start=1)]
    merged = merge_networks(members)
    assert merged.sizes[0] == 784 and merged.sizes[-1] == 10
    assert list(merged.sizes[1:-1]) == [sum(s[l] for s in shapes) for l in range(1, len(shapes[0]) - 1)]
    X = mnist.test_images[:40]
    mean = np.mean([log_odds(n, X) for n in members], axis=0)
    np.testing.assert_allclose(log_odds(merged, X), mean, rtol=1e-4, atol=1e-4)


def test_networks_that_do_not_fit_together_are_refused_by_name():
    with pytest.raises(ValueError, match="member 2 has 2 layers, member 1 has 1"):
        merge_networks([Network((784, 10), rng=0), Network((784, 5, 10), rng=0)])
    with pytest.raises(ValueError, match="member 2 maps 784 -> 3"):
        merge_networks([Network((784, 5, 10), rng=0), Network((784, 5, 3), rng=0)])
    with pytest.raises(ValueError, match="member 2 is float64"):
        merge_networks([Network((784, 5, 10), rng=0), Network((784, 5, 10), rng=0, dtype="float64")])


def test_mean_of_weights_is_the_mean_of_every_weight_and_bias():
    members = [Network((784, 6, 5, 10), init="scaled", rng=seed) for seed in (1, 2, 3)]
    mean = mean_of_weights(members)
    assert mean.sizes == (784, 6, 5, 10) and np.dtype(mean.dtype) == np.dtype(members[0].dtype)
    for layer in range(3):
        np.testing.assert_allclose(mean.weights[layer], sum(m.weights[layer] for m in members) / 3, rtol=1e-6)
        np.testing.assert_allclose(mean.biases[layer], sum(m.biases[layer] for m in members) / 3, rtol=1e-6)
    alone = mean_of_weights(members[:1])
    assert all(np.array_equal(a, b) for a, b in zip(alone.weights + alone.biases, members[0].weights + members[0].biases))


def test_networks_of_other_sizes_are_not_averaged():
    with pytest.raises(ValueError, match="member 2 is 784-7-10, member 1 784-6-10: only networks of the same sizes"):
        mean_of_weights([Network((784, 6, 10), rng=0), Network((784, 7, 10), rng=0)])
    with pytest.raises(ValueError, match="member 2 is float64, member 1 float32"):
        mean_of_weights([Network((784, 6, 10), rng=0), Network((784, 6, 10), rng=0, dtype="float64")])


def test_merge_models_mean_weights_writes_one_network_of_the_members_size(tmp_path, mnist):
    """A network continued from another (here: a few steps of its own training) averaged with
    it: the file holds the weights' mean, lists its members, and reads like any model."""
    start = Network((784, 16, 10), init="scaled", rng=1)
    continued = Network((784, 16, 10), init="scaled", rng=1)
    continued.weights = [w + np.float32(0.01) * np.sign(w) for w in continued.weights]
    paths = [tmp_path / "start.npz", tmp_path / "continued.npz"]
    for path, network in zip(paths, (start, continued)):
        save_checkpoint(path, network, {}, momentum=False)
    out = tmp_path / "mean.npz"
    done = run_merge(*paths, "--mean-weights", "--out", out)
    assert done.returncode == 0 and done.stderr == f"saved {out}: the weights of 2 networks averaged\n", done.stderr
    network, meta = load_checkpoint(out)
    assert network.sizes == (784, 16, 10) and "merged_from" not in meta
    assert [m["file"] for m in meta["averaged_from"]] == [str(p) for p in paths]
    for mine, a, b in zip(network.weights, start.weights, continued.weights):
        np.testing.assert_allclose(mine, (a + b) / 2, rtol=1e-6)
    _, _, info = models.load(out)
    assert info.members == 1 and info.describe() == f"{out} (784-16-10)"
    wider = tmp_path / "wider.npz"
    save_checkpoint(wider, Network((784, 20, 10), rng=1), {}, momentum=False)
    done = run_merge(paths[0], wider, "--mean-weights", "--out", tmp_path / "x.npz")
    assert done.returncode == 1 and not (tmp_path / "x.npz").exists()
    assert done.stderr == ("merge_models.py: error: cannot merge these models: member 2 is 784-20-10, member 1 "
                           "784-16-10: only networks of the same sizes average\n")


def run_merge(*args, cwd=None):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "merge_models.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_merge_models_writes_one_checkpoint_that_names_its_members(tmp_path, mnist):
    paths = []
    for seed, hidden in ((1, 12), (2, 9)):
        paths.append(tmp_path / f"m{seed}.npz")
        save_checkpoint(paths[-1], Network((784, hidden, 10), init="scaled", rng=seed), {}, momentum=False)
    out = tmp_path / "merged.npz"
    done = run_merge(*paths, "--out", out, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    network, meta = load_checkpoint(out)
    assert network.sizes == (784, 21, 10)
    assert [m["file"] for m in meta["merged_from"]] == [str(p) for p in paths] == [m["file"] for m in report["merged_from"]]
    assert [m["sizes"] for m in meta["merged_from"]] == [[784, 12, 10], [784, 9, 10]]
    # what predict and evaluate show for it
    _, _, info = models.load(out)
    assert info.members == 2 and info.describe() == f"{out} (784-21-10: 2 networks merged)"
    X = mnist.test_images[:20]
    expected = np.mean([log_odds(load_checkpoint(p)[0], X) for p in paths], axis=0)
    np.testing.assert_allclose(log_odds(network, X), expected, rtol=1e-4, atol=1e-4)


def test_merge_models_refuses_bad_members_and_keeps_an_existing_output(tmp_path):
    good = tmp_path / "good.npz"
    save_checkpoint(good, Network((784, 4, 10), rng=1), {}, momentum=False)
    out = tmp_path / "out.npz"
    out.write_bytes(b"keep me")
    done = run_merge(good, good, "--out", out)
    assert done.returncode == 2 and "already exists (add --overwrite" in done.stderr and out.read_bytes() == b"keep me"
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    check = tmp_path / "check.npz"
    save_checkpoint(check, Network((784, 4, 1), rng=1), {}, momentum=False)
    deep = tmp_path / "deep.npz"
    save_checkpoint(deep, Network((784, 4, 4, 10), rng=1), {}, momentum=False)
    for bad, says in ((junk, "junk.npz: not an .npz checkpoint"), (check, "wrong shape for a digit classifier"),
                      (deep, "cannot merge these models: member 2 has 3 layers")):
        done = run_merge(good, bad, "--out", tmp_path / "new.npz")
        assert done.returncode == 1, done.stderr
        assert len(done.stderr.splitlines()) == 1 and says in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "new.npz").exists()
    done = run_merge(good, "--out", tmp_path / "new.npz")
    assert done.returncode == 2 and "at least two models" in done.stderr


def test_a_merge_too_big_to_load_is_not_written(tmp_path, monkeypatch):
    from mnist_app import checkpoint
    from mnist_app.merge import merge_models

    member = tmp_path / "m.npz"
    save_checkpoint(member, Network((784, 4, 10), rng=1), {}, momentum=False)
    monkeypatch.setattr(checkpoint, "MAX_PARAMETERS", 6369)  # merged: 784*8 + 8 + 10*8 + 10 = 6,370
    with pytest.raises(ValueError, match="would have 6,370 parameters, more than mnist_app loads"):
        merge_models([str(member), str(member)], tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
