"""Proof that mnist_app.network computes the gradient the book and the seed documents describe.

* finite differences (the derivative as a ratio of small changes, "Inverse error propagation
  method") on every parameter of a multi-hidden-layer network, both costs;
* the worked example of "Make Your Own NN" (w11 = 2.0 -> 2.00265) and the outer product of
  "Reverse error propagation method", computed by the network's own code;
* update_mini_batch equals the book's per-example code (mnist_app.reference), with L2 and momentum;
* a short real-MNIST training run learns.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mnist_app import network as nw
from mnist_app import reference
from mnist_app.network import (
    COSTS,
    INITS,
    CrossEntropyCost,
    Network,
    QuadraticCost,
    as_cost,
    one_hot,
    sigmoid,
    sigmoid_prime,
)

#: Each cost of the network and the same cost as the book writes it (the oracle).
BOOK_COSTS = {"quadratic": reference.QuadraticCost, "cross-entropy": reference.CrossEntropyCost}

SMALL = (5, 4, 3, 2)  # two hidden layers


def random_batch(sizes, m, seed=0, dtype=np.float64):
    """``m`` random inputs and one-hot targets for a network of ``sizes`` (also used by test_fast_sgd)."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, sizes[0])).astype(dtype)
    Y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1], dtype=dtype)
    return X, Y


def _summed_cost(net: Network, X, Y, cost: str) -> float:
    """The cost summed over the batch, by the book's formula on the network's output (no backprop code)."""
    a = net.feedforward(X).astype(np.float64)
    return float(sum(BOOK_COSTS[cost].fn(a_row, y_row) for a_row, y_row in zip(a, Y)))


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
    # the "Back Propagation study note", eq. 2, checked against a central difference of sigmoid.
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


def test_cost_names_map_to_cost_objects():
    assert COSTS == {"quadratic": QuadraticCost, "cross-entropy": CrossEntropyCost}
    assert as_cost("quadratic") is QuadraticCost and as_cost(CrossEntropyCost) is CrossEntropyCost
    for bad in ("Quadratic", "log-likelihood", None, reference.QuadraticCost):
        with pytest.raises(ValueError, match="quadratic, cross-entropy"):
            as_cost(bad)
    with pytest.raises(ValueError):
        Network((3, 2), rng=0).evaluate(np.zeros((1, 3)), [0], cost="hinge")


@pytest.mark.parametrize("name", COSTS)
def test_cost_fn_and_delta_are_the_books(name):
    """Each cost against network2.py's own formula (mnist_app.reference), row by row."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (6, 4))
    a = sigmoid(z)
    y = one_hot(rng.integers(0, 4, 6), 4, dtype=np.float64)
    cost, book = COSTS[name], BOOK_COSTS[name]
    assert cost.fn(a, y, z) == pytest.approx(sum(book.fn(a[i], y[i]) for i in range(6)), rel=1e-12)
    np.testing.assert_allclose(cost.delta(z, a, y), book.delta(z, a, y), rtol=1e-12, atol=1e-15)


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
    """"Inverse error propagation method": derivative = (f(x + dx) - f(x)) / dx as dx -> 0.

    We use the symmetric form (average of the forward and backward quotients), whose error
    is O(dx^2), so the comparison can be tight: relative error < 1e-6 for every layer.
    """
    net = Network(SMALL, init="scaled", dtype="float64", rng=7)
    X, Y = random_batch(SMALL, 6, seed=1)
    nabla_b, nabla_w = net.backprop(X, Y, cost=cost)
    h = 1e-5
    for params, grads in ((net.biases, nabla_b), (net.weights, nabla_w)):
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


def test_make_your_own_nn_worked_example():
    """"Make Your Own NN", p80-p100: w11 = 2.0, w21 = 3.0, hidden outputs (0.4, 0.5),
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
    delta = QuadraticCost.delta(z, o, t)           # BP1: -(t - o) * s(z)(1 - s(z))
    slope = delta[0, 0] * x[0, 0]                  # BP4: ... * o_j
    assert slope == pytest.approx(-0.0265, abs=5e-5)
    _, nabla_w = net.backprop(x, t, cost="quadratic")
    assert nabla_w[0][0, 0] == pytest.approx(slope, rel=1e-12)
    net.update_mini_batch(x, t, 0.1)               # new w = old w - 0.1 * slope
    assert net.weights[0][0, 0] == pytest.approx(2.00265, abs=5e-6)
    assert net.weights[0][0, 0] == pytest.approx(2.0 - 0.1 * slope, rel=1e-14)


def test_reverse_error_propagation_outer_product():
    """"Reverse error propagation method": bias slopes (1, 2, 3) x inputs (4, 5, 6, 7).

    Through backprop and update_mini_batch: a 4 -> 3 layer with the cross-entropy cost, whose
    output delta is a - y, so y = a - (1, 2, 3) makes the deltas (1, 2, 3).
    """
    expected = np.array([[4, 5, 6, 7], [8, 10, 12, 14], [12, 15, 18, 21]], dtype=np.float64)
    net = Network((4, 3), dtype="float64", rng=0)
    x = np.array([[4.0, 5.0, 6.0, 7.0]])
    y = net.feedforward(x) - np.array([1.0, 2.0, 3.0])
    nabla_b, nabla_w = net.backprop(x, y, cost="cross-entropy")
    np.testing.assert_allclose(nabla_w[0], expected, rtol=1e-12)
    np.testing.assert_allclose(nabla_b[0], [1.0, 2.0, 3.0], rtol=1e-12)
    before = net.weights[0].copy()
    net.update_mini_batch(x, y, 1.0, cost="cross-entropy")
    np.testing.assert_allclose(before - net.weights[0], expected, rtol=1e-12)


# --------------------------------------------------------------------------- update == book
def book_loop(book: reference.BookNetwork, X, Y, eta, l2=0.0, n=1, mu=0.0) -> None:
    """One book update on the rows of X and Y, as (x, y) column vectors."""
    book.update_mini_batch([(x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X, Y)], eta, l2, n, mu)


def assert_same_as_book(net: Network, book: reference.BookNetwork, atol: float) -> None:
    for a, b in zip(net.weights + net.biases, book.weights + book.biases):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=0, atol=atol)
    if net.velocities is not None:
        for a, b in zip(net.velocities, book.velocities):
            np.testing.assert_allclose(a, b.reshape(a.shape), rtol=0, atol=atol)


@pytest.mark.parametrize(
    "cost,l2,mu",
    [("quadratic", 0.0, 0.0), ("cross-entropy", 0.0, 0.0), ("quadratic", 5.0, 0.0), ("cross-entropy", 5.0, 0.9)],
)
def test_update_mini_batch_equals_the_books_per_example_code(cost, l2, mu):
    net = Network(SMALL, dtype="float64", rng=11)
    book = reference.BookNetwork.from_parameters(net.weights, net.biases, cost=BOOK_COSTS[cost])
    for step, m in enumerate((7, 7, 3, 1)):    # several steps: velocities carry over
        X, Y = random_batch(SMALL, m, seed=100 + step)
        net.update_mini_batch(X, Y, 0.7, cost=cost, l2=l2, n_train=50, momentum=mu)
        book_loop(book, X, Y, 0.7, l2, 50, mu)
        assert_same_as_book(net, book, atol=1e-12)
    assert (net.velocities is not None) == bool(mu)


def test_backprop_returns_biases_then_weights_like_the_book():
    net = Network(SMALL, dtype="float64", rng=2)
    X, Y = random_batch(SMALL, 1, seed=3)
    nabla_b, nabla_w = net.backprop(X, Y)
    book = reference.BookNetwork.from_parameters(net.weights, net.biases)
    book_b, book_w = book.backprop(X[0].reshape(-1, 1), Y[0].reshape(-1, 1))
    assert [g.shape for g in nabla_b] == [b.shape for b in net.biases]
    assert [g.shape for g in nabla_w] == [w.shape for w in net.weights]
    for a, b in zip(nabla_b + nabla_w, book_b + book_w):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="expected X"):
        net.backprop(X[:, :3], Y)


def test_float32_stays_float32_through_update_mini_batch():
    net = Network(SMALL, rng=0)
    X, Y = random_batch(SMALL, 20, seed=0, dtype=np.float32)
    net.update_mini_batch(X, Y, 1.0, l2=0.1, n_train=20, momentum=0.5)
    net.update_mini_batch(X[:3].astype(np.float64), Y[:3], 1.0, momentum=0.5)   # converted
    for a in net.weights + net.biases + net.velocities:
        assert a.dtype == np.float32
    assert net.feedforward(X).dtype == np.float32
    assert net.predict(X).dtype == np.int64
    before = [w.copy() for w in net.weights]
    net.update_mini_batch(X[:0], Y[:0], 1.0)   # an empty batch changes nothing
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- inference helpers
def test_feedforward_chunks_predict_accuracy(monkeypatch):
    net = Network(SMALL, dtype="float64", rng=4)
    X, Y = random_batch(SMALL, 50, seed=2)
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
    X, Y = random_batch(SMALL, 10, seed=2)
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
    X, Y = random_batch(SMALL, 50, seed=3)
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
    20,000 training images for 2 epochs (seeds 0-5 give 88-90%), using the readable update_mini_batch."""
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
