"""mnist_app.reference, the book's per-example code that the tests use as their oracle: its own
gradient must match finite differences of its own cost, independently of mnist_app.network."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_app.reference import BookNetwork, CrossEntropyCost, QuadraticCost


@pytest.mark.parametrize("cost", [QuadraticCost, CrossEntropyCost])
def test_book_backprop_matches_finite_differences(cost):
    rng = np.random.default_rng(0)
    book = BookNetwork((4, 3, 3, 2), rng, cost=cost)
    x = rng.random((4, 1))
    y = np.array([[0.0], [1.0]])
    nabla_b, nabla_w = book.backprop(x, y)
    h = 1e-6
    for params, grads in ((book.biases, nabla_b), (book.weights, nabla_w)):
        for p, g in zip(params, grads):
            assert g.shape == p.shape
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + h
                up = cost.fn(book.feedforward(x), y)
                p[i] = old - h
                down = cost.fn(book.feedforward(x), y)
                p[i] = old
                assert g[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9)


def test_update_is_networks_rule_and_from_parameters_copies():
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)]
    biases = [rng.standard_normal(3).astype(np.float32), rng.standard_normal(2).astype(np.float32)]
    book = BookNetwork.from_parameters(weights, biases)
    assert book.sizes == [4, 3, 2] and book.biases[0].shape == (3, 1) and book.weights[0].dtype == np.float64
    batch = [(rng.random((4, 1)), np.array([[1.0], [0.0]])) for _ in range(3)]
    grads = [book.backprop(x, y) for x, y in batch]
    expect = [w - (0.6 / 3) * sum(g[1][l] for g in grads) for l, w in enumerate(book.weights)]
    book.update_mini_batch(batch, 0.6)
    for w, e in zip(book.weights, expect):
        np.testing.assert_allclose(w, e, rtol=1e-14)
    assert not np.shares_memory(book.weights[0], weights[0])
