"""Proof that mnist_app.network computes the gradient the seed documents describe.

* finite differences (seed 001_20becd8ef2ace8b7.txt's definition of the derivative) on every
  parameter of a multi-hidden-layer network, both costs;
* seed 004_1b3dd8781af032a7.txt's worked example and seed 000_d2ba5a29ff86e6b8.txt's outer
  product, computed by the network's own code;
* the fast vectorised update equals a plain per-example loop of the book's algorithm;
* a short real-MNIST training run learns.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

from mnist_app import network as nw
from mnist_app.network import (
    COSTS,
    INITS,
    Network,
    one_hot,
    output_delta,
    sigmoid,
    sigmoid_prime,
    weight_gradient,
)

SMALL = (5, 4, 3, 2)  # two hidden layers


def _batch(sizes, m, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((m, sizes[0])).astype(dtype)
    Y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1], dtype=dtype)
    return X, Y


def _summed_cost(net: Network, X, Y, cost: str) -> float:
    """The cost summed over the batch, straight from feedforward (no backprop code)."""
    a = net.feedforward(X).astype(np.float64)
    if cost == "quadratic":
        return 0.5 * float(np.sum((a - Y) ** 2))
    return float(np.sum(-Y * np.log(a) - (1 - Y) * np.log(1 - a)))


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


# --------------------------------------------------------------------------- sigmoid & helpers
def test_sigmoid_matches_definition_and_never_warns():
    z = np.linspace(-30, 30, 601)
    # tanh form: same function; absolute error ~1e-17 (relative precision of tiny values is lost)
    np.testing.assert_allclose(sigmoid(z), 1.0 / (1.0 + np.exp(-z)), rtol=1e-13, atol=1e-16)
    for dtype in (np.float32, np.float64):
        big = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype)
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            s = sigmoid(big)
            sp = sigmoid_prime(big)
        assert s.dtype == dtype
        np.testing.assert_array_equal(s, np.array([0.0, 0.0, 0.5, 1.0, 1.0], dtype=dtype))
        np.testing.assert_array_equal(sp, np.array([0.0, 0.0, 0.25, 0.0, 0.0], dtype=dtype))


def test_sigmoid_in_place_and_integer_input():
    z = np.array([0.0, 2.0], dtype=np.float32)
    out = sigmoid(z, out=z)
    assert out is z and z.dtype == np.float32
    assert sigmoid(np.array([0, 1])).dtype == np.float64


def test_sigmoid_prime_is_s_times_one_minus_s():
    # seed 002_003028a0d0a1b1e9.txt, eq. 2, checked against a central difference of sigmoid.
    z = np.linspace(-8, 8, 33)
    h = 1e-6
    np.testing.assert_allclose(sigmoid_prime(z), (sigmoid(z + h) - sigmoid(z - h)) / (2 * h), atol=1e-9)


def test_one_hot():
    y = one_hot(np.array([3, 0, 9], dtype=np.uint8))
    assert y.shape == (3, 10) and y.dtype == np.float32
    assert y.sum() == 3 and y[0, 3] == y[1, 0] == y[2, 9] == 1
    with pytest.raises(ValueError):
        one_hot(np.array([10]))
    with pytest.raises(ValueError):
        one_hot(np.array([-1]))


# --------------------------------------------------------------------------- construction
def test_init_statistics_textbook_and_scaled():
    rng_net = Network((784, 100, 10), init="textbook", rng=1, dtype="float64")
    w = rng_net.weights[0]
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1.0) < 0.01
    biases = np.concatenate(rng_net.biases)
    assert abs(biases.std() - 1.0) < 0.15
    scaled = Network((784, 100, 10), init="scaled", rng=1, dtype="float64")
    assert abs(scaled.weights[0].std() * np.sqrt(784) - 1.0) < 0.01
    assert abs(scaled.weights[1].std() * np.sqrt(100) - 1.0) < 0.1
    np.testing.assert_array_equal(scaled.biases[0], rng_net.biases[0])  # biases N(0,1) in both


def test_shapes_dtypes_seeds_and_validation():
    net = Network((6, 5, 4, 3), rng=3)
    assert net.sizes == (6, 5, 4, 3) and net.dtype == np.float32
    assert [w.shape for w in net.weights] == [(5, 6), (4, 5), (3, 4)]
    assert [b.shape for b in net.biases] == [(5,), (4,), (3,)]
    assert net.velocities is None
    assert all(a.dtype == np.float32 for a in net.weights + net.biases)
    again = Network((6, 5, 4, 3), rng=np.random.default_rng(3))
    double = Network((6, 5, 4, 3), rng=3, dtype="float64")
    for a, b, c in zip(net.weights, again.weights, double.weights):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c.astype(np.float32))
    assert set(INITS) == {"textbook", "scaled"} and set(COSTS) == {"quadratic", "cross-entropy"}
    for bad in (dict(sizes=(5,)), dict(sizes=(5, 0)), dict(init="xavier"), dict(dtype="int32")):
        with pytest.raises(ValueError):
            Network(**bad)
    assert Network((3, 2), rng=0).feedforward(np.zeros((4, 3))).shape == (4, 2)  # no hidden layer


# --------------------------------------------------------------------------- gradient proofs
@pytest.mark.parametrize("cost", COSTS)
def test_backprop_matches_finite_differences_on_every_parameter(cost):
    """Seed 001_20becd8ef2ace8b7.txt: derivative = (f(x + dx) - f(x)) / dx as dx -> 0.

    We use the symmetric form (average of the forward and backward quotients), whose error
    is O(dx^2), so the comparison can be tight: relative error < 1e-6 for every layer.
    """
    net = Network(SMALL, init="scaled", dtype="float64", rng=7)
    X, Y = _batch(SMALL, 6, seed=1)
    nabla_w, nabla_b = net.backprop(X, Y, cost=cost)
    h = 1e-5
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads):
            assert g.shape == p.shape
            numeric = np.empty_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + h
                up = _summed_cost(net, X, Y, cost)
                p[i] = old - h
                down = _summed_cost(net, X, Y, cost)
                p[i] = old
                numeric[i] = (up - down) / (2 * h)
            assert _rel_err(g, numeric) < 1e-6
            assert np.all(np.abs(g - numeric) <= 1e-6 * np.abs(numeric).max() + 1e-10)


def test_seed_004_worked_example():
    """Seed 004_1b3dd8781af032a7.txt: w11 = 2.0, w21 = 3.0, hidden outputs (0.4, 0.5),
    error e1 = t - o = 0.8, learning rate 0.1 -> slope -0.0265, new w11 = 2.00265.

    The hidden->output connection is a (2 -> 1) layer of our network; its input is the
    hidden outputs.  The target is set so that t - o = 0.8 for the network's own o.
    """
    net = Network((2, 1), dtype="float64", rng=0)
    net.weights[0][...] = [[2.0, 3.0]]
    net.biases[0][...] = 0.0
    x = np.array([[0.4, 0.5]])
    o = net.feedforward(x)
    z = x @ net.weights[0].T                       # 2.0*0.4 + 3.0*0.5
    assert z[0, 0] == pytest.approx(2.3)
    assert o[0, 0] == pytest.approx(0.909, abs=5e-4)                   # sigmoid(2.3)
    assert sigmoid_prime(z)[0, 0] == pytest.approx(0.083, abs=5e-4)   # 0.909 (1 - 0.909)
    t = o + 0.8
    delta = output_delta(o, t, z, "quadratic")     # -(t - o) * s(z)(1 - s(z))
    slope = weight_gradient(delta[0], x[0])[0, 0]  # ... * o_j
    assert slope == pytest.approx(-0.0265, abs=5e-5)
    nabla_w, _ = net.backprop(x, t, cost="quadratic")
    assert nabla_w[0][0, 0] == pytest.approx(slope, rel=1e-12)
    net.update_mini_batch(x, t, 0.1)               # new w = old w - 0.1 * slope
    assert net.weights[0][0, 0] == pytest.approx(2.00265, abs=5e-6)
    assert net.weights[0][0, 0] == pytest.approx(2.0 - 0.1 * slope, rel=1e-14)


def test_seed_000_outer_product():
    """Seed 000_d2ba5a29ff86e6b8.txt: bias slopes (1, 2, 3) x inputs (4, 5, 6, 7)."""
    expected = np.array([[4, 5, 6, 7], [8, 10, 12, 14], [12, 15, 18, 21]], dtype=np.float64)
    np.testing.assert_array_equal(weight_gradient(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0, 7.0])), expected)
    # The same numbers through backprop and the fast update: a 4 -> 3 layer with the
    # cross-entropy cost, whose output delta is a - y (seed 001), so y = a - (1, 2, 3).
    net = Network((4, 3), dtype="float64", rng=0)
    x = np.array([[4.0, 5.0, 6.0, 7.0]])
    y = net.feedforward(x) - np.array([1.0, 2.0, 3.0])
    nabla_w, nabla_b = net.backprop(x, y, cost="cross-entropy")
    np.testing.assert_allclose(nabla_w[0], expected, rtol=1e-12)
    np.testing.assert_allclose(nabla_b[0], [1.0, 2.0, 3.0], rtol=1e-12)
    before = net.weights[0].copy()
    net.update_mini_batch(x, y, 1.0, cost="cross-entropy")
    np.testing.assert_allclose(before - net.weights[0], expected, rtol=1e-12)


# --------------------------------------------------------------------------- fast == book
def _book_update(weights, biases, velocities, batch, eta, cost, l2, n, mu):
    """The book's update_mini_batch, one example at a time with column vectors (network.py /
    network2.py), plus momentum as chapter 3 describes it."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in batch:
        x = x.reshape(-1, 1)
        y = y.reshape(-1, 1)
        activation, activations, zs = x, [x], []
        for w, b in zip(weights, biases):
            z = np.dot(w, activation) + b.reshape(-1, 1)
            zs.append(z)
            activation = 1.0 / (1.0 + np.exp(-z))
            activations.append(activation)
        s = activations[-1]
        delta = (s - y) * s * (1 - s) if cost == "quadratic" else s - y
        dnb = [None] * len(biases)
        dnw = [None] * len(weights)
        dnb[-1], dnw[-1] = delta, np.dot(delta, activations[-2].T)
        for l in range(2, len(weights) + 1):
            s = activations[-l]
            delta = np.dot(weights[-l + 1].T, delta) * s * (1 - s)
            dnb[-l], dnw[-l] = delta, np.dot(delta, activations[-l - 1].T)
        nabla_b = [nb + d.ravel() for nb, d in zip(nabla_b, dnb)]
        nabla_w = [nw_ + d for nw_, d in zip(nabla_w, dnw)]
    m = len(batch)
    grads = nabla_w + nabla_b
    params = weights + biases
    new_v = [mu * v - (eta / m) * g for v, g in zip(velocities, grads)]
    L = len(weights)
    new_params = [(1 - eta * l2 / n) * p + v if i < L else p + v for i, (p, v) in enumerate(zip(params, new_v))]
    return new_params[:L], new_params[L:], new_v


@pytest.mark.parametrize(
    "cost,l2,mu",
    [("quadratic", 0.0, 0.0), ("cross-entropy", 0.0, 0.0), ("quadratic", 5.0, 0.0), ("cross-entropy", 5.0, 0.9)],
)
def test_vectorised_update_equals_per_example_book_loop(cost, l2, mu):
    net = Network(SMALL, dtype="float64", rng=11)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    velocities = [np.zeros_like(p) for p in weights + biases]
    rng = np.random.default_rng(5)
    for step in range(4):                      # several steps: velocities carry over
        m = (7, 7, 3, 1)[step]
        X, Y = _batch(SMALL, m, seed=100 + step)
        net.update_mini_batch(X, Y, 0.7, cost=cost, l2=l2, n_train=50, momentum=mu)
        weights, biases, velocities = _book_update(
            weights, biases, velocities, list(zip(X, Y)), 0.7, cost, l2, 50, mu
        )
        for a, b in zip(net.weights + net.biases, weights + biases):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
        if mu:
            for a, b in zip(net.velocities, velocities):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert rng is not None


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-6)])
def test_backprop_equals_update_mini_batch(dtype, tol):
    for cost in COSTS:
        net = Network(SMALL, dtype=dtype, rng=2)
        X, Y = _batch(SMALL, 9, seed=3, dtype=np.dtype(dtype))
        eta = 0.5
        nabla_w, nabla_b = net.backprop(X, Y, cost=cost)
        expect = [w - (eta / 9) * g for w, g in zip(net.weights, nabla_w)]
        expect += [b - (eta / 9) * g for b, g in zip(net.biases, nabla_b)]
        net.update_mini_batch(X, Y, eta, cost=cost)
        for a, b in zip(net.weights + net.biases, expect):
            np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def test_sgd_epoch_equals_update_mini_batch_loop():
    X, Y = _batch(SMALL, 23, seed=4)
    order = np.random.default_rng(0).permutation(23)
    a = Network(SMALL, dtype="float64", rng=1)
    b = copy.deepcopy(a)
    a.sgd_epoch(X, Y, 0.9, 5, order=order, cost="cross-entropy", l2=1.0, momentum=0.5)
    for start in range(0, 23, 5):              # 4 batches of 5, then 3
        i = order[start : start + 5]
        b.update_mini_batch(X[i], Y[i], 0.9, cost="cross-entropy", l2=1.0, n_train=23, momentum=0.5)
    for p, q in zip(a.weights + a.biases + a.velocities, b.weights + b.biases + b.velocities):
        np.testing.assert_array_equal(p, q)
    with pytest.raises(ValueError):
        a.sgd_epoch(X, Y, 0.9, 5, order=[0, 23])


def test_float32_stays_float32_through_training():
    net = Network(SMALL, rng=0)
    X, Y = _batch(SMALL, 20, seed=0, dtype=np.float32)
    net.sgd_epoch(X, Y, 1.0, 4, cost="quadratic", l2=0.1, momentum=0.5)
    net.update_mini_batch(X[:3].astype(np.float64), Y[:3], 1.0, momentum=0.5)   # converted
    for a in net.weights + net.biases + net.velocities:
        assert a.dtype == np.float32
    assert net.feedforward(X).dtype == np.float32
    assert net.predict(X).dtype == np.int64


def test_assigning_new_arrays_is_picked_up_and_state_round_trips():
    """Checkpoint loading assigns plain arrays to weights/biases/velocities; the fast path uses them."""
    src = Network(SMALL, dtype="float64", rng=1)
    X, Y = _batch(SMALL, 8, seed=9)
    src.update_mini_batch(X, Y, 0.3, momentum=0.9)
    dst = Network(SMALL, dtype="float64", rng=99)
    dst.weights = [np.array(w) for w in src.weights]
    dst.biases = [np.array(b) for b in src.biases]
    dst.velocities = [np.array(v) for v in src.velocities]
    clone = pickle.loads(pickle.dumps(src))
    for net in (src, dst, clone):
        net.update_mini_batch(X, Y, 0.3, momentum=0.9)
    for a, b, c in zip(src.weights + src.biases, dst.weights + dst.biases, clone.weights + clone.biases):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    dst.velocities = None                      # dropping the momentum buffers restarts them
    dst.update_mini_batch(X, Y, 0.3, momentum=0.9)
    assert dst.velocities is not None
    dst.weights = [np.zeros((2, 2))] * 3
    with pytest.raises(ValueError):
        dst.update_mini_batch(X, Y, 0.3)


# --------------------------------------------------------------------------- inference helpers
def test_feedforward_chunks_predict_accuracy(monkeypatch):
    net = Network(SMALL, dtype="float64", rng=4)
    X, Y = _batch(SMALL, 50, seed=2)
    whole = net.feedforward(X)
    monkeypatch.setattr(nw, "FEEDFORWARD_CHUNK", 7)
    np.testing.assert_array_equal(net.feedforward(X), whole)
    a = X.T
    for w, b in zip(net.weights, net.biases):
        a = 1.0 / (1.0 + np.exp(-(w @ a + b[:, None])))
    np.testing.assert_allclose(whole, a.T, rtol=1e-12)
    assert net.feedforward(X[0]).shape == (1, 2)
    labels = np.argmax(a.T, axis=1)
    np.testing.assert_array_equal(net.predict(X), labels)
    assert net.accuracy(X, labels) == 1.0
    assert net.accuracy(X, 1 - labels) == 0.0


def test_total_cost():
    net = Network(SMALL, dtype="float64", rng=4)
    X, Y = _batch(SMALL, 10, seed=2)
    labels = np.argmax(Y, axis=1)
    for cost in COSTS:
        assert net.total_cost(X, labels, cost=cost) == pytest.approx(_summed_cost(net, X, Y, cost) / 10, rel=1e-10)
    l2_term = 0.5 * (3.0 / 10) * sum(float(np.sum(w**2)) for w in net.weights)
    assert net.total_cost(X, labels, l2=3.0) == pytest.approx(net.total_cost(X, labels) + l2_term, rel=1e-12)
    net.weights[-1][...] = 1000.0              # saturated outputs: a large but finite cost, no warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(net.total_cost(X, labels, cost="cross-entropy"))


def test_evaluate_is_accuracy_and_cost_in_one_pass(monkeypatch):
    net = Network(SMALL, dtype="float64", rng=5)
    X, Y = _batch(SMALL, 50, seed=3)
    labels = np.argmax(Y, axis=1)
    monkeypatch.setattr(nw, "FEEDFORWARD_CHUNK", 7)  # several chunks must add up
    for cost in COSTS:
        accuracy, total = net.evaluate(X, labels, cost=cost, l2=2.0)
        assert accuracy == net.accuracy(X, labels) and 0.0 < accuracy < 1.0
        assert total == pytest.approx(_summed_cost(net, X, Y, cost) / 50
                                      + 0.5 * (2.0 / 50) * sum(float(np.sum(w**2)) for w in net.weights), rel=1e-10)
    assert net.evaluate(X[:0], labels[:0]) == (0.0, 0.0)


# --------------------------------------------------------------------------- real data
def test_short_real_mnist_training_beats_85_percent(mnist):
    """The textbook network and hyperparameters (784-30-10, quadratic, eta 3.0, batch 10) on
    20,000 training images for 2 epochs (about 0.3 s; seeds 0-5 give 88-90%), using update_mini_batch directly."""
    net = Network((784, 30, 10), rng=0)
    X = np.ascontiguousarray(mnist.train_images[:20_000], dtype=np.float32)
    Y = one_hot(mnist.train_labels[:20_000])
    rng = np.random.default_rng(0)
    for _epoch in range(2):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 10):
            i = order[start : start + 10]
            net.update_mini_batch(X[i], Y[i], 3.0)
    accuracy = net.accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy > 0.85, accuracy
