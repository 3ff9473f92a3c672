"""A fully connected sigmoid network trained by backpropagation and mini-batch SGD.

This is Nielsen's ``network.py`` / ``network2.py`` ("Neural Networks and Deep Learning",
chapters 1-3), 784-30-10 by default, with one change of layout: a mini-batch is a matrix X
of shape ``(m, sizes[0])``, one row per example, so each formula is applied to all m
examples at once instead of in a Python loop over column vectors.  ``weights[l]`` has shape
``(sizes[l+1], sizes[l])`` and ``biases[l]`` shape ``(sizes[l+1],)``, as in the book.

Backpropagation is the book's four equations (chapter 2), each one line of
:meth:`Network.backprop`:

    BP1  delta^L = nabla_a C * sigmoid'(z^L)                     the output error
    BP2  delta^l = ((w^{l+1})^T delta^{l+1}) * sigmoid'(z^l)    the error one layer down
    BP3  dC/db^l_j  = delta^l_j
    BP4  dC/dw^l_jk = a^{l-1}_k delta^l_j

The seed documents this project started from derive the same steps in their own words:

* "Reverse error propagation method": the slope of the loss for a bias is its delta (BP3) and
  for a weight "bias slope x input", the outer product of a column of deltas and a row of
  inputs (BP4): (1, 2, 3) x (4, 5, 6, 7) -> a 3x4 matrix.
* "Inverse error propagation method - start writing backpropagation": the derivative as a ratio
  of small changes (the tests' finite-difference check), the chain rule ("the slope of a
  multi-stage function is the product of the slopes"), the cross-entropy slope a - y, and
  "multiple inputs -> the slope is the sum" (why a mini-batch's gradients are added).
* "Back Propagation study note": sigmoid(x) = 1/(1 + e^-x), sigmoid' = sigmoid (1 - sigmoid),
  and the output delta as "output error x output gradient" (BP1).
* "65_Backpropagation": dE/dw_ji = delta_j z_i (BP4); a hidden unit's delta comes from the
  deltas of the units above it (BP2).
* "Make Your Own NN, p80-p100": the transposed-weights rule for hidden errors,
  error_hidden = W^T . error_output (BP2), with a worked example (w11 = 2.0 -> 2.00265) that
  tests/test_network.py recomputes.

Training runs through :func:`mnist_app.fast_sgd.sgd_epoch`, the same arithmetic as
:meth:`Network.update_mini_batch` arranged for speed; the tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

INITS = ("textbook", "scaled")
DTYPES = ("float32", "float64")

#: Rows of X processed at once by feedforward / evaluate (bounds temporary memory).
FEEDFORWARD_CHUNK = 4096


# --------------------------------------------------------------------------- #
# Elementwise pieces
# --------------------------------------------------------------------------- #
def sigmoid(z, out=None) -> np.ndarray:
    """sigmoid(z) = 1 / (1 + e^-z)   (the "Back Propagation study note", eq. 1).

    Computed as ``0.5 * tanh(0.5 * z) + 0.5``, which is the same function
    (1/(1+e^-z) = (1 + tanh(z/2)) / 2) but never overflows: tanh saturates at +-1, so
    z = +-1000 gives exactly 1 and 0 without RuntimeWarnings.  The price: tiny outputs
    (z < -20) are accurate in absolute terms (~1e-17 in float64), not relative ones,
    which no gradient can notice.  Integer input is computed in float64; ``out`` may be
    ``z`` itself (in place).
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    np.multiply(out, 0.5, out=out)
    np.add(out, 0.5, out=out)
    return out


def sigmoid_prime(z) -> np.ndarray:
    """sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))   (the "Back Propagation study note", eq. 2)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def one_hot(labels, n_classes: int = 10, dtype=np.float32) -> np.ndarray:
    """Labels (N,) of ints in [0, n_classes) -> (N, n_classes) rows with a single 1.0
    (the book's ``vectorized_result``, for a whole array of labels)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be integers in [0, {n_classes})")
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


# --------------------------------------------------------------------------- #
# Costs (network2.py's QuadraticCost and CrossEntropyCost)
# --------------------------------------------------------------------------- #
class QuadraticCost:
    """C = 1/2 ||a - y||^2 per example, so nabla_a C = a - y."""

    @staticmethod
    def fn(a: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        """The cost summed over the rows of ``a`` (``z`` is unused; see CrossEntropyCost.fn)."""
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """BP1 with nabla_a C = a - y: delta^L = (a - y) * sigmoid'(z)."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = sum_j -y_j ln a_j - (1 - y_j) ln(1 - a_j) per example (the book's chapter 3 cost)."""

    @staticmethod
    def fn(a: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        """The cost summed over the rows, computed from z: ln a = -softplus(-z) and
        ln(1 - a) = -softplus(z), so a saturated output gives a large finite cost where the
        book's ``np.log(a)`` would give log(0) (the book hides that with ``nan_to_num``)."""
        return float(np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))

    @staticmethod
    def delta(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """delta^L = a - y: BP1's sigmoid'(z) cancels against the cost's slope
        (the book's eq. 66; the cross-entropy slope in "Inverse error propagation method")."""
        return a - y


#: The names users give a cost (command line, TrainConfig, checkpoints) -> the cost.
COSTS = {"quadratic": QuadraticCost, "cross-entropy": CrossEntropyCost}


def as_cost(cost):
    """The cost for a name in :data:`COSTS`; one of the cost classes is returned as is."""
    if isinstance(cost, str) and cost in COSTS:
        return COSTS[cost]
    if cost in COSTS.values():
        return cost
    raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {cost!r}")


# --------------------------------------------------------------------------- #
# The network
# --------------------------------------------------------------------------- #
class Network:
    """Sigmoid layers of the given sizes, e.g. ``Network((784, 30, 10))``.

    ``init="textbook"``: every weight and bias drawn from N(0, 1), as in the book's network.py.
    ``init="scaled"``: weights from N(0, 1/n_in) (biases still N(0, 1)), network2.py's
    improvement that keeps hidden neurons out of saturation.
    ``dtype``: "float32" (default, fast) or "float64".  ``rng``: a numpy Generator or
    an int seed (None = fresh entropy).  The random numbers are drawn in float64 and
    then cast, so the same seed gives the same network in both dtypes.

    ``weights``, ``biases`` and ``velocities`` (momentum buffers, weight-shaped then
    bias-shaped, or None) are lists of numpy arrays that anyone may replace, as loading a
    checkpoint does.
    """

    def __init__(
        self,
        sizes: Sequence[int] = (784, 30, 10),
        *,
        init: str = "textbook",
        dtype="float32",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least 2 positive layer sizes, got {sizes}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        dt = np.dtype(dtype)
        if dt.name not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        self.sizes: tuple[int, ...] = sizes
        self.dtype: np.dtype = dt
        self.init = init
        # Same order as the book: all biases first, then all weights.
        biases = [rng.standard_normal(n) for n in sizes[1:]]
        weights = [rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        if init == "scaled":
            weights = [w / np.sqrt(w.shape[1]) for w in weights]
        self.weights: list[np.ndarray] = [w.astype(dt) for w in weights]
        self.biases: list[np.ndarray] = [b.astype(dt) for b in biases]
        self.velocities: list[np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"Network(sizes={self.sizes}, init={self.init!r}, dtype={self.dtype.name!r})"

    # ------------------------------------------------------------------ forward
    def _layers_forward(self, X, keep_z: bool = False):
        """Yield (start, stop, output activations, output z) for chunks of the rows of X."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (N, {self.sizes[0]}), got {X.shape}")
        for start in range(0, X.shape[0], FEEDFORWARD_CHUNK):
            a = np.asarray(X[start : start + FEEDFORWARD_CHUNK], dtype=self.dtype)
            z = a
            for w, b in zip(self.weights, self.biases):
                z = a @ w.T          # z = w . a + b, for every row at once
                z += b
                a = sigmoid(z, out=np.empty_like(z)) if keep_z else sigmoid(z, out=z)
            yield start, start + a.shape[0], a, z

    def feedforward(self, X) -> np.ndarray:
        """Activations of the output layer for X (N, sizes[0]) -> (N, sizes[-1]).

        a^{l+1} = sigmoid(w^l a^l + b^l) layer after layer.  X is processed in chunks of
        ``FEEDFORWARD_CHUNK`` rows so that temporaries stay small even for huge N.
        A single image (sizes[0],) gives a (1, sizes[-1]) result.
        """
        X = np.asarray(X)
        n = 1 if X.ndim == 1 else X.shape[0]
        out = np.empty((n, self.sizes[-1]), dtype=self.dtype)
        for start, stop, a, _ in self._layers_forward(X):
            out[start:stop] = a
        return out

    def predict(self, X) -> np.ndarray:
        """The digit with the largest output activation, for every row of X -> (N,) int64."""
        return np.argmax(self.feedforward(X), axis=1).astype(np.int64)

    def accuracy(self, X, labels) -> float:
        """Fraction (0..1) of rows of X whose prediction equals the label."""
        labels = np.asarray(labels)
        if labels.shape[0] == 0:
            return 0.0
        return float(np.count_nonzero(self.predict(X) == labels)) / labels.shape[0]

    def evaluate(self, X, labels, cost="quadratic", l2: float = 0.0) -> tuple[float, float]:
        """(accuracy, total_cost) of X from one forward pass (the trainer's per-epoch check).

        The cost is the mean over the rows, plus network2.py's L2 term 1/2 (l2/N) sum ||w||^2.
        ``cost``: a name in :data:`COSTS` or one of the cost classes.
        """
        cost = as_cost(cost)
        labels = np.asarray(labels)
        X = np.asarray(X)
        n = X.shape[0] if X.ndim == 2 else 1
        if n == 0:
            return 0.0, 0.0
        total, correct = 0.0, 0
        for start, stop, a, z in self._layers_forward(X, keep_z=True):
            correct += int(np.count_nonzero(np.argmax(a, axis=1) == labels[start:stop]))
            y = one_hot(labels[start:stop], self.sizes[-1], dtype=np.float64)
            total += cost.fn(a.astype(np.float64), y, z.astype(np.float64))
        total /= n
        if l2:
            total += 0.5 * (l2 / n) * sum(float(np.sum(np.square(w, dtype=np.float64))) for w in self.weights)
        return correct / n, total

    def total_cost(self, X, labels, cost="quadratic", l2: float = 0.0) -> float:
        """The cost part of :meth:`evaluate` (network2.py's ``total_cost``)."""
        return self.evaluate(X, labels, cost, l2)[1]

    # ------------------------------------------------------------------ learning
    def backprop(self, X, Y, cost="quadratic") -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(nabla_b, nabla_w)``: the gradient of the cost summed over the rows of X and Y,
        layer by layer like ``biases`` and ``weights`` (the book's return order).

        X is (m, sizes[0]), Y one-hot (m, sizes[-1]).  Summing is what the book's
        update_mini_batch does over its examples ("multiple inputs -> the slope is the sum").
        """
        cost = as_cost(cost)
        X = np.atleast_2d(np.asarray(X, dtype=self.dtype))
        Y = np.atleast_2d(np.asarray(Y, dtype=self.dtype))
        if X.shape[1] != self.sizes[0] or Y.shape != (X.shape[0], self.sizes[-1]):
            raise ValueError(
                f"expected X (m, {self.sizes[0]}) and Y (m, {self.sizes[-1]}), got {X.shape} and {Y.shape}"
            )
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        # Rows are examples, so the book's column formulas appear transposed: w . a + b is
        # ``a @ w.T + b``, (w^T delta) is ``delta @ w``, and the book's sum over the mini-batch
        # of delta a^T is one product ``delta.T @ a``.
        # Forward pass, remembering every z and activation.
        activation = X
        activations = [X]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = activation @ w.T + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward pass.
        delta = cost.delta(zs[-1], activations[-1], Y)                         # BP1
        nabla_b[-1] = delta.sum(axis=0)                                        # BP3
        nabla_w[-1] = delta.T @ activations[-2]                                # BP4
        for l in range(2, len(self.sizes)):
            delta = (delta @ self.weights[-l + 1]) * sigmoid_prime(zs[-l])    # BP2
            nabla_b[-l] = delta.sum(axis=0)                                    # BP3
            nabla_w[-l] = delta.T @ activations[-l - 1]                        # BP4
        return nabla_b, nabla_w

    def update_mini_batch(
        self,
        X,
        Y,
        eta: float,
        *,
        cost="quadratic",
        l2: float = 0.0,
        n_train: int = 1,
        momentum: float = 0.0,
    ) -> None:
        """One step of gradient descent on the mini-batch X (m, sizes[0]), Y one-hot.

        network2.py's update with L2 weight decay (``l2`` is the book's lambda, ``n_train``
        the training set's size): w <- (1 - eta l2/n) w - (eta/m) nabla_w, b <- b - (eta/m) nabla_b.
        With ``momentum`` mu > 0 (chapter 3's momentum-based gradient descent) every parameter
        p moves by a velocity: v <- mu v - (eta/m) nabla_p, then p <- p + v (weights decayed
        first, as above).  ``velocities`` start at zero.
        """
        m = np.atleast_2d(np.asarray(X)).shape[0]
        if m == 0:
            return
        nabla_b, nabla_w = self.backprop(X, Y, cost)
        decay = 1.0 - eta * l2 / n_train
        if not momentum:
            self.weights = [decay * w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in self.weights + self.biases]
        self.velocities = [momentum * v - (eta / m) * g for v, g in zip(self.velocities, nabla_w + nabla_b)]
        L = len(self.weights)
        self.weights = [decay * w + v for w, v in zip(self.weights, self.velocities[:L])]
        self.biases = [b + v for b, v in zip(self.biases, self.velocities[L:])]
