"""mnist_app.fast_sgd.sgd_epoch: the same updates as the readable Network.update_mini_batch and
the book's per-example code, bit-for-bit repeatable, and in step with whoever replaces the
network's arrays (checkpoints, the readable update)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from mnist_app import reference
from mnist_app.fast_sgd import sgd_epoch
from mnist_app.network import COSTS, Network, one_hot
from test_network import BOOK_COSTS, SMALL, random_batch

def parameters(net: Network) -> list[np.ndarray]:
    return list(net.weights) + list(net.biases) + list(net.velocities or [])


def assert_identical(a: Network, b: Network) -> None:
    pa, pb = parameters(a), parameters(b)
    assert len(pa) == len(pb)
    for p, q in zip(pa, pb):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)


CASES = [  # cost, l2, momentum
    ("quadratic", 0.0, 0.0),
    ("cross-entropy", 0.0, 0.0),
    ("quadratic", 2.0, 0.0),
    ("cross-entropy", 5.0, 0.9),
]


@pytest.mark.parametrize("cost,l2,mu", CASES)
@pytest.mark.parametrize("dtype,atol", [("float64", 1e-12), ("float32", 1e-5)])
def test_sgd_epoch_equals_readable_update_mini_batch_loop(cost, l2, mu, dtype, atol):
    """23 examples in batches of 5: four full batches and a short last one of 3."""
    X, Y = random_batch(SMALL, 23, seed=4, dtype=np.dtype(dtype))
    order = np.random.default_rng(0).permutation(23)
    fast = Network(SMALL, dtype=dtype, rng=1)
    readable = copy.deepcopy(fast)
    sgd_epoch(fast, X, Y, 0.9, 5, order=order, cost=cost, l2=l2, momentum=mu)
    for start in range(0, 23, 5):
        i = order[start : start + 5]
        readable.update_mini_batch(X[i], Y[i], 0.9, cost=cost, l2=l2, n_train=23, momentum=mu)
    pf, pr = parameters(fast), parameters(readable)
    assert len(pf) == len(pr) == (4 if mu else 2) * (len(SMALL) - 1)
    for p, q in zip(pf, pr):
        assert p.dtype == q.dtype == np.dtype(dtype)
        np.testing.assert_allclose(p, q, rtol=0, atol=atol)


@pytest.mark.parametrize("cost,l2,mu", CASES)
def test_sgd_epoch_equals_the_books_per_example_code(cost, l2, mu):
    X, Y = random_batch(SMALL, 17, seed=8)
    net = Network(SMALL, dtype="float64", rng=11)
    book = reference.BookNetwork.from_parameters(net.weights, net.biases, cost=BOOK_COSTS[cost])
    for epoch in range(3):                      # velocities carry over between calls
        order = np.random.default_rng(epoch).permutation(17)
        sgd_epoch(net, X, Y, 0.7, 4, order=order, cost=cost, l2=l2, momentum=mu)
        for start in range(0, 17, 4):
            i = order[start : start + 4]
            book.update_mini_batch([(x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X[i], Y[i])],
                                   0.7, l2, 17, mu)
    for a, b in zip(parameters(net), book.weights + book.biases + (book.velocities if mu else [])):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("l2,mu", [(0.0, 0.0), (4.0, 0.5)])
def test_bit_identical_to_update_mini_batch_where_every_rounding_is_the_same(cost, l2, mu):
    """A step on one example through a layer with no hidden layer, from exactly representable
    weights, biases, velocities and inputs, with eta/m = 0.5: both paths compute z exactly and
    the same sigmoid, and where one scales by eta/m earlier than the other the scale is a power
    of two, so every rounding agrees and the two paths must give the same bits."""
    rng = np.random.default_rng(3)
    start = Network((6, 4), dtype="float64", rng=0)
    start.weights[0][...] = rng.integers(-8, 8, (4, 6)) / 8
    start.biases[0][...] = rng.integers(-8, 8, 4) / 8
    if mu:
        start.velocities = [rng.integers(-4, 4, (4, 6)) / 16, rng.integers(-4, 4, 4) / 16]
    X = rng.integers(0, 4, (5, 6)) / 4
    Y = one_hot(rng.integers(0, 4, 5), 4, dtype=np.float64)
    for i in range(5):
        fast, readable = copy.deepcopy(start), copy.deepcopy(start)
        sgd_epoch(fast, X, Y, 0.5, 1, order=[i], cost=cost, l2=l2, n_train=8, momentum=mu)
        readable.update_mini_batch(X[i : i + 1], Y[i : i + 1], 0.5, cost=cost, l2=l2, n_train=8, momentum=mu)
        assert_identical(fast, readable)
        assert not np.array_equal(fast.weights[0], start.weights[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_epoch_in_parts_is_bit_identical_to_one_call(dtype):
    """train.py calls sgd_epoch on slices of the permutation (for its progress bar)."""
    X, Y = random_batch((784, 30, 10), 1003, seed=2, dtype=np.dtype(dtype))
    order = np.random.default_rng(0).permutation(1003)
    whole = Network((784, 30, 10), dtype=dtype, rng=5)
    parts = copy.deepcopy(whole)
    sgd_epoch(whole, X, Y, 0.5, 10, order=order, cost="cross-entropy", l2=5.0, momentum=0.9)
    for first in range(0, 1003, 70):            # 7 batches a call, then a short last batch of 3
        sgd_epoch(parts, X, Y, 0.5, 10, order=order[first : first + 70], cost="cross-entropy", l2=5.0,
                  n_train=1003, momentum=0.9)
    assert_identical(whole, parts)


def test_float32_stays_float32():
    net = Network(SMALL, rng=0)
    X, Y = random_batch(SMALL, 20, seed=0, dtype=np.float32)
    sgd_epoch(net, X, Y, 1.0, 4, cost="quadratic", l2=0.1, momentum=0.5)
    for a in parameters(net):
        assert a.dtype == np.float32
    assert net.feedforward(X).dtype == np.float32


def test_replaced_arrays_are_picked_up_and_copies_train_alike():
    """Checkpoint loading and the readable update assign new arrays to weights/biases/velocities;
    the next sgd_epoch must train those, and a pickled or copied network must train alike."""
    X, Y = random_batch(SMALL, 8, seed=9)
    src = Network(SMALL, dtype="float64", rng=1)
    sgd_epoch(src, X, Y, 0.3, 4, momentum=0.9)
    dst = Network(SMALL, dtype="float64", rng=99)
    sgd_epoch(dst, X, Y, 0.3, 4, momentum=0.9)          # dst has packed state of its own
    dst.weights = [np.array(w) for w in src.weights]
    dst.biases = [np.array(b) for b in src.biases]
    dst.velocities = [np.array(v) for v in src.velocities]
    clone = pickle.loads(pickle.dumps(src))
    twin = copy.deepcopy(src)
    for net in (src, dst, clone, twin):
        sgd_epoch(net, X, Y, 0.3, 4, momentum=0.9)
    for net in (dst, clone, twin):
        assert_identical(src, net)
    # The readable update replaces every array; the fast path follows it.
    readable = copy.deepcopy(src)
    src.update_mini_batch(X[:4], Y[:4], 0.3, momentum=0.9)
    readable.update_mini_batch(X[:4], Y[:4], 0.3, momentum=0.9)
    sgd_epoch(src, X, Y, 0.3, 4, momentum=0.9)
    sgd_epoch(readable, X, Y, 0.3, 4, momentum=0.9)
    assert_identical(src, readable)
    dst.velocities = None                                # dropping the momentum buffers restarts them
    sgd_epoch(dst, X, Y, 0.3, 4, momentum=0.9)
    assert dst.velocities is not None
    dst.weights = [np.zeros((2, 2))] * 3
    with pytest.raises(ValueError, match="layer 0"):
        sgd_epoch(dst, X, Y, 0.3, 4)


def test_many_batch_sizes_and_bad_arguments():
    X, Y = random_batch(SMALL, 30, seed=1)
    a = Network(SMALL, dtype="float64", rng=2)
    b = copy.deepcopy(a)
    for m in (1, 2, 3, 4, 5, 6, 7):                      # more sizes than the work-buffer cache holds
        sgd_epoch(a, X, Y, 0.5, m)
        for start in range(0, 30, m):
            b.update_mini_batch(X[start : start + m], Y[start : start + m], 0.5)
    for p, q in zip(parameters(a), parameters(b)):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-12)
    for kwargs, message in (
        (dict(order=[0, 30]), "outside X"),
        (dict(order=[-1]), "outside X"),
        (dict(batch_size=0), "batch_size"),
        (dict(cost="hinge"), "cost must be one of"),
    ):
        args = dict(batch_size=5) | kwargs
        with pytest.raises(ValueError, match=message):
            sgd_epoch(a, X, Y, 0.5, args.pop("batch_size"), **args)
    with pytest.raises(ValueError, match="expected X"):
        sgd_epoch(a, X[:, :4], Y, 0.5, 5)
    before = parameters(copy.deepcopy(a))
    sgd_epoch(a, X, Y, 0.5, 5, order=[])                 # nothing to do
    for p, q in zip(parameters(a), before):
        np.testing.assert_array_equal(p, q)
