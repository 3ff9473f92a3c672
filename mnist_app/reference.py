"""The book's own per-example network: the yardstick the project is measured against.

:class:`BookNetwork` is Nielsen's ``network.py`` / ``network2.py`` written the book's way:
one (n, 1) column vector per example, ``np.dot(w, a) + b``, a Python loop over the examples
of a mini-batch whose gradients are summed, float64.  It is used

* by the tests, as an independent oracle: ``mnist_app.network`` and ``mnist_app.fast_sgd``
  must reproduce its updates (so it deliberately shares no code with them, not even sigmoid
  or the costs, which are written here as the book writes them), and
* by ``scripts/benchmark.py``, as the baseline that the speed-up is measured against.

Beyond network.py it has network2.py's two costs and L2 weight decay (``lmbda``, ``n``) and
chapter 3's momentum, which the tests need; with their defaults the update is network.py's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class QuadraticCost:
    @staticmethod
    def fn(a, y):
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    @staticmethod
    def fn(a, y):
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


class BookNetwork:
    """The book's network: ``biases[l]`` (n, 1), ``weights[l]`` (n_out, n_in), float64."""

    def __init__(self, sizes: Sequence[int], rng: np.random.Generator, cost=QuadraticCost) -> None:
        self.num_layers = len(sizes)
        self.sizes = list(sizes)
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
        self.velocities = [np.zeros(p.shape) for p in self.weights + self.biases]
        self.cost = cost

    @classmethod
    def from_parameters(cls, weights, biases, cost=QuadraticCost) -> "BookNetwork":
        """A BookNetwork holding float64 copies of the given weights and (1-D or column) biases."""
        net = cls.__new__(cls)
        net.sizes = [np.shape(weights[0])[1]] + [np.shape(w)[0] for w in weights]
        net.num_layers = len(net.sizes)
        net.weights = [np.array(w, dtype=np.float64) for w in weights]
        net.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]
        net.velocities = [np.zeros(p.shape) for p in net.weights + net.biases]
        net.cost = cost
        return net

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch, eta: float, lmbda: float = 0.0, n: int = 1, momentum: float = 0.0):
        """mini_batch: a list of (x, y) column vectors.  L2 as network2.py; momentum as chapter 3."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(mini_batch)
        if not (lmbda or momentum):            # network.py
            self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]
        elif not momentum:                     # network2.py
            self.weights = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]
        else:                                  # chapter 3: v <- mu v - eta nabla C; p <- p + v
            self.velocities = [momentum * v - (eta / m) * g
                               for v, g in zip(self.velocities, nabla_w + nabla_b)]
            L = len(self.weights)
            self.weights = [(1 - eta * (lmbda / n)) * w + v for w, v in zip(self.weights, self.velocities[:L])]
            self.biases = [b + v for b, v in zip(self.biases, self.velocities[L:])]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w
