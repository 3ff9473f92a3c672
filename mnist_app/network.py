"""A fully connected sigmoid network trained by backpropagation and mini-batch SGD.

This is the textbook network (Nielsen's ``network.py``, 784-30-10 by default) with
backpropagation exactly as the project's seed documents (the ``seeds/`` files named below) derive it.
Every formula below names the seed it comes from:

* seed 000_d2ba5a29ff86e6b8.txt -- the slope of the loss for a bias is the output delta;
  the slope for a weight is "bias slope x input", i.e. the outer product of the
  bias slopes (a column) and the inputs (a row): (1,2,3) x (4,5,6,7) -> a 3x4 matrix.
  The slope for a hidden bias is the inner product of the next layer's bias slopes
  with the next layer's weight column.
* seed 001_20becd8ef2ace8b7.txt -- the definition of the derivative as a ratio of
  small changes, (f(x+dx) - f(x)) / dx (our finite-difference gradient check uses it);
  the chain rule "slope of a multi-stage function = product of the slopes";
  the cross-entropy cost derivative a - y; "multiple inputs -> the slope is the sum".
* seed 002_003028a0d0a1b1e9.txt -- sigmoid(x) = 1/(1+e^-x) and
  sigmoid'(x) = sigmoid(x)(1 - sigmoid(x)); output delta = error x output gradient.
* seed 003_475ae65e73e9b25c.txt -- dE/dw_ji = delta_j z_i; hidden delta is obtained by
  propagating the deltas of the units above it backwards.
* seed 004_1b3dd8781af032a7.txt -- the hidden errors are the *transposed* weight
  matrix times the output errors; the worked example w11 = 2.0 -> 2.00265.

Layout: ``weights[l]`` has shape ``(sizes[l+1], sizes[l])`` and ``biases[l]`` shape
``(sizes[l+1],)`` (Nielsen's layout; a mini-batch X is ``(m, sizes[0])``, one row per
image).  The quadratic cost is C = 1/2 ||a - y||^2, so dC/da = a - y (seed 004 writes
E = (t - o)^2 and then drops the factor 2, which is the same thing).

Two implementations of the same gradient live here:

* :meth:`Network.backprop` -- the readable one, one line per formula, used by the
  tests and by anyone learning how backprop works;
* :meth:`Network.update_mini_batch` / :meth:`Network.sgd_epoch` -- the fast one,
  the same algebra arranged for speed (see ``_FastPath``): whole mini-batch as
  matrices, activations stored as columns, biases folded into the weight matrix
  through a constant "ones" row, eta/m folded into the output delta, every
  temporary preallocated, every numpy call with ``out=``.

The tests check that both give the same numbers and that they equal finite
differences of the cost.

Speed (``python scripts/benchmark.py`` on this 2-core machine, idle): a textbook epoch
(50,000 images, 784-30-10, batch 10, float32) takes ~0.135 s, ~12x the book's per-example
code (1.6 s, float64); 784-800-10 at batch 100 runs at ~220 GFLOP/s, ~80% of numpy's own
2048x2048 sgemm in the same run.  OpenBLAS threads: its default (one per core) is right for
one training at a time, but two processes that each start 2 threads on 2 cores thrash
(large layers fall to ~4 GFLOP/s) -- give concurrent runs OPENBLAS_NUM_THREADS=1, which
must be set before numpy is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COSTS = ("quadratic", "cross-entropy")
INITS = ("textbook", "scaled")
DTYPES = ("float32", "float64")

#: Rows of X processed at once by feedforward / total_cost (bounds temporary memory).
FEEDFORWARD_CHUNK = 4096
#: How many different mini-batch sizes keep their work buffers cached.
_MAX_CACHED_BATCH_SIZES = 4


# --------------------------------------------------------------------------- #
# Elementwise pieces
# --------------------------------------------------------------------------- #
def sigmoid(z, out=None) -> np.ndarray:
    """sigmoid(z) = 1 / (1 + e^-z)   (seed 002_003028a0d0a1b1e9.txt, eq. 1).

    Computed as ``0.5 * tanh(0.5 * z) + 0.5``, which is the same function
    (1/(1+e^-z) = (1 + tanh(z/2)) / 2) but never overflows: tanh saturates at +-1, so
    z = +-1000 gives exactly 1 and 0 without RuntimeWarnings.  The price: tiny outputs
    (z < -20) are accurate in absolute terms (~1e-17 in float64), not relative ones,
    which no gradient can notice.  Integer input is
    computed in float64; ``out`` may be ``z`` itself (in place).
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
    """sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))   (seed 002_003028a0d0a1b1e9.txt, eq. 2)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def one_hot(labels, n_classes: int = 10, dtype=np.float32) -> np.ndarray:
    """Labels (N,) of ints in [0, n_classes) -> (N, n_classes) rows with a single 1.0."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be integers in [0, {n_classes})")
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def cost_derivative(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dC/da for the quadratic cost C = 1/2 ||a - y||^2: simply a - y.

    Each output's slope depends only on its own activation (seed 001_20becd8ef2ace8b7.txt:
    "the results of each input are independent").  Seed 004_1b3dd8781af032a7.txt writes the
    same slope as -(t_k - o_k).
    """
    return a - y


def output_delta(a: np.ndarray, y: np.ndarray, z: np.ndarray, cost: str = "quadratic") -> np.ndarray:
    """delta^L = dC/dz for the output layer, one row per example.

    * quadratic:      delta = cost'(a) * sigmoid'(z) = (a - y) * sigmoid'(z)
      (chain rule, seed 001_20becd8ef2ace8b7.txt; "output error x output gradient",
      delta^o = E G in seed 002_003028a0d0a1b1e9.txt)
    * cross-entropy:  delta = a - y   (seed 001_20becd8ef2ace8b7.txt,
      ``cross_entropy_cost_derivative``: the sigmoid' factor cancels).
    """
    if cost == "quadratic":
        return cost_derivative(a, y) * sigmoid_prime(z)
    if cost == "cross-entropy":
        return a - y
    raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")


def hidden_delta(delta_next: np.ndarray, w_next: np.ndarray, z: np.ndarray) -> np.ndarray:
    """delta^l = (delta^{l+1} . w^{l+1}) * sigmoid'(z^l), one row per example.

    Seed 000_d2ba5a29ff86e6b8.txt: the slope for hidden bias j is the inner product of the
    next layer's bias slopes with column j of the next layer's weights.  Seed
    004_1b3dd8781af032a7.txt: the errors go back through the *transposed* weight matrix,
    error_hidden = W^T . error_output.  With examples as rows, W^T e for every row is
    ``delta_next @ w_next``.  Then multiply by sigmoid'(z) (chain rule, seed 001).
    """
    return (delta_next @ w_next) * sigmoid_prime(z)


def weight_gradient(delta: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """dC/dw = outer product of the bias slopes (delta, a column) and the inputs (a row).

    Seed 000_d2ba5a29ff86e6b8.txt: bias slopes (1, 2, 3) x inputs (4, 5, 6, 7) ->
    [[4, 5, 6, 7], [8, 10, 12, 14], [12, 15, 18, 21]]; seed 003_475ae65e73e9b25c.txt:
    dE/dw_ji = delta_j z_i.  For a mini-batch (delta (m, n_out), inputs (m, n_in)) the
    per-example outer products are summed, which is one matrix product delta^T @ inputs
    ("multiple inputs -> the slope is the sum", seed 001_20becd8ef2ace8b7.txt).
    """
    delta = np.asarray(delta)
    inputs = np.asarray(inputs)
    if delta.ndim == 1:
        return np.outer(delta, inputs)
    return delta.T @ inputs


def bias_gradient(delta: np.ndarray) -> np.ndarray:
    """dC/db = delta (the bias's own slope is 1, seed 001), summed over the mini-batch."""
    delta = np.asarray(delta)
    return delta if delta.ndim == 1 else delta.sum(axis=0)


# --------------------------------------------------------------------------- #
# The fast path's work buffers
# --------------------------------------------------------------------------- #
class _Work:
    """Preallocated arrays for one mini-batch size m (activations stored as columns).

    For layer l with n_in inputs and n_out outputs:
      inp[l]  (n_in + 1, m)  its input with a last row of ones (so the bias is just the
                              last column of the packed weight matrix);
      act[l]  (n_out, m)     its activations (for hidden layers: the top block of the
                              next layer's ``inp``, so no copy is made);
      delta[l], tmp[l] (n_out, m);  grad[l] (n_out, n_in + 1) = [dC/dw | dC/db] * eta/m.
    ``x_rows`` is ``inp[0]`` seen as (m, n_in) rows: np.take/np.copyto write a batch
    straight into it.
    """

    def __init__(self, sizes: Sequence[int], m: int, dtype: np.dtype) -> None:
        self.m = m
        xaug = np.ones((m, sizes[0] + 1), dtype=dtype)  # rows of [x | 1]
        self.x_rows = xaug[:, : sizes[0]]
        self.inp = [xaug.T]
        self.act = []
        for n in sizes[1:-1]:
            aug = np.ones((n + 1, m), dtype=dtype)
            self.act.append(aug[:n])
            self.inp.append(aug)
        self.act.append(np.empty((sizes[-1], m), dtype=dtype))
        self.inp_T = [a.T for a in self.inp]
        self.delta = [np.empty((n, m), dtype=dtype) for n in sizes[1:]]
        self.tmp = [np.empty((n, m), dtype=dtype) for n in sizes[1:]]
        self.grad = [np.empty((o, i + 1), dtype=dtype) for i, o in zip(sizes[:-1], sizes[1:])]
        self.y_rows = np.empty((m, sizes[-1]), dtype=dtype)
        self.step = self.step_packed = self.step_vel = None   # see Network._step_for


class _Packed:
    """Each layer's [W | b] in one array; the public weights/biases are views into it."""

    def __init__(self, network: "Network") -> None:
        sizes, dtype = network.sizes, network.dtype
        self.params = []
        for w, b, n_in, n_out in zip(network.weights, network.biases, sizes[:-1], sizes[1:]):
            p = np.empty((n_out, n_in + 1), dtype=dtype)
            p[:, :n_in] = w
            p[:, n_in] = b
            self.params.append(p)
        self.w = [p[:, :-1] for p in self.params]
        self.b = [p[:, -1] for p in self.params]
        self.w_T = [w.T for w in self.w]
        network.weights = list(self.w)
        network.biases = list(self.b)
        self.vel = None
        self.vel_views: list[np.ndarray] = []
        if network.velocities is not None:
            self.attach_velocities(network, network.velocities)

    def attach_velocities(self, network: "Network", velocities) -> None:
        n = len(self.params)
        self.vel = [np.zeros_like(p) for p in self.params]
        if velocities is not None:
            for v, src in zip(self.vel, velocities[:n]):
                v[:, :-1] = src
            for v, src in zip(self.vel, velocities[n:]):
                v[:, -1] = src
        self.vel_views = [v[:, :-1] for v in self.vel] + [v[:, -1] for v in self.vel]
        network.velocities = list(self.vel_views)

    def in_sync(self, network: "Network") -> bool:
        """True if nobody replaced an array in weights/biases/velocities since packing."""
        ws, bs, vs = network.weights, network.biases, network.velocities
        if len(ws) != len(self.w) or len(bs) != len(self.b):
            return False
        for a, v in zip(ws, self.w):
            if a is not v:
                return False
        for a, v in zip(bs, self.b):
            if a is not v:
                return False
        if vs is None:
            return self.vel is None
        if self.vel is None or len(vs) != len(self.vel_views):
            return False
        for a, v in zip(vs, self.vel_views):
            if a is not v:
                return False
        return True


# --------------------------------------------------------------------------- #
# The network
# --------------------------------------------------------------------------- #
class Network:
    """Sigmoid layers of the given sizes, e.g. ``Network((784, 30, 10))``.

    ``init="textbook"``: every weight and bias drawn from N(0, 1), as in the book.
    ``init="scaled"``: weights from N(0, 1/n_in) (biases still N(0, 1)), the book's
    improvement that keeps hidden neurons out of saturation.
    ``dtype``: "float32" (default, fast) or "float64".  ``rng``: a numpy Generator or
    an int seed (None = fresh entropy).  The random numbers are drawn in float64 and
    then cast, so the same seed gives the same network in both dtypes.

    ``weights``, ``biases`` and ``velocities`` are plain numpy arrays (the fast path
    keeps them as views into one packed array per layer; if you assign new arrays to
    these lists the next update copies them in, so checkpoints can simply set them).
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
        self._packed: _Packed | None = None
        self._work: dict[int, _Work] = {}
        self._pack()

    # ------------------------------------------------------------------ helpers
    @property
    def num_layers(self) -> int:
        return len(self.sizes)

    def __repr__(self) -> str:
        return f"Network(sizes={self.sizes}, init={self.init!r}, dtype={self.dtype.name!r})"

    def _pack(self) -> _Packed:
        """(Re)build the packed [W | b] storage from the public lists, validating them."""
        L = len(self.sizes) - 1
        if len(self.weights) != L or len(self.biases) != L:
            raise ValueError(f"expected {L} weight and bias arrays for sizes {self.sizes}")
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            want_w, want_b = (self.sizes[l + 1], self.sizes[l]), (self.sizes[l + 1],)
            if np.shape(w) != want_w or np.shape(b) != want_b:
                raise ValueError(
                    f"layer {l}: weights {np.shape(w)} / biases {np.shape(b)}, expected {want_w} / {want_b}"
                )
        if self.velocities is not None:
            shapes = [w.shape for w in self.weights] + [b.shape for b in self.biases]
            if len(self.velocities) != 2 * L or any(np.shape(v) != s for v, s in zip(self.velocities, shapes)):
                raise ValueError("velocities must be weight-shaped then bias-shaped arrays")
        self._packed = _Packed(self)
        return self._packed

    def _synced(self) -> _Packed:
        packed = self._packed
        if packed is None or not packed.in_sync(self):
            packed = self._pack()
        return packed

    def _step_for(self, m: int, packed: _Packed):
        """The compiled step for batch size m (work buffers cached per m)."""
        work = self._work.get(m)
        if work is None:
            if len(self._work) >= _MAX_CACHED_BATCH_SIZES:
                self._work.clear()
            work = self._work[m] = _Work(self.sizes, m, self.dtype)
        if work.step is None or work.step_packed is not packed or work.step_vel is not packed.vel:
            work.step = _make_step(packed, work)
            work.step_packed, work.step_vel = packed, packed.vel
        return work.step

    def __getstate__(self) -> dict:
        # Work buffers are a cache: never pickle or deepcopy them.
        state = self.__dict__.copy()
        state["_work"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._packed = None
        self._synced()

    # ------------------------------------------------------------------ forward
    def _layers_forward(self, X: np.ndarray, keep_z: bool = False):
        """Yield (start, stop, activations[, z of last layer]) for chunks of X."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (N, {self.sizes[0]}), got {X.shape}")
        for start in range(0, X.shape[0], FEEDFORWARD_CHUNK):
            a = np.asarray(X[start : start + FEEDFORWARD_CHUNK], dtype=self.dtype)
            z = a
            for w, b in zip(self.weights, self.biases):
                z = a @ w.T          # z = w . a + b   (seed 001: the m-to-n conversion function)
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

    def total_cost(self, X, labels, cost: str = "quadratic", l2: float = 0.0) -> float:
        """Mean cost over the rows of X (+ L2 term), as in the book's network2.total_cost.

        quadratic: 1/2 ||a - y||^2; cross-entropy: sum(-y ln a - (1-y) ln(1-a)), computed
        from z as y softplus(-z) + (1-y) softplus(z) so that saturated outputs give a large
        finite cost instead of log(0) warnings.  L2 adds 1/2 (l2/N) sum ||w||^2.
        """
        return self.evaluate(X, labels, cost, l2)[1]

    def evaluate(self, X, labels, cost: str = "quadratic", l2: float = 0.0) -> tuple[float, float]:
        """(accuracy, total_cost) of X from one forward pass (the trainer's per-epoch check)."""
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        labels = np.asarray(labels)
        X = np.asarray(X)
        n = X.shape[0] if X.ndim == 2 else 1
        if n == 0:
            return 0.0, 0.0
        total, correct = 0.0, 0
        for start, stop, a, z in self._layers_forward(X, keep_z=True):
            correct += int(np.count_nonzero(np.argmax(a, axis=1) == labels[start:stop]))
            y = one_hot(labels[start:stop], self.sizes[-1], dtype=np.float64)
            if cost == "quadratic":
                total += 0.5 * float(np.sum((a.astype(np.float64) - y) ** 2))
            else:
                z = z.astype(np.float64)
                total += float(np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))
        total /= n
        if l2:
            total += 0.5 * (l2 / n) * sum(float(np.sum(np.square(w, dtype=np.float64))) for w in self.weights)
        return correct / n, total

    # ------------------------------------------------------------------ backprop (readable)
    def backprop(self, X, Y, cost: str = "quadratic") -> tuple[list, list]:
        """Gradient of the cost summed over a mini-batch: (nabla_w, nabla_b), lists per layer.

        The teaching version, one line per formula (rows of X and Y are examples;
        ``nabla_w[l]`` has the shape of ``weights[l]``).  Nothing is scaled by eta or m.
        """
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        X = np.atleast_2d(np.asarray(X, dtype=self.dtype))
        Y = np.atleast_2d(np.asarray(Y, dtype=self.dtype))
        # Forward pass, remembering every z and activation (seed 002, section 1.1).
        activation = X
        activations = [X]                # a^0 = the input
        zs = []
        for w, b in zip(self.weights, self.biases):
            z = activation @ w.T + b     # z = w . a + b            (seed 001: m-to-n conversion)
            zs.append(z)
            activation = sigmoid(z)      # a = sigmoid(z)           (seed 002, eq. 1)
            activations.append(activation)
        nabla_w = [None] * len(self.weights)
        nabla_b = [None] * len(self.biases)
        # Output layer: delta = cost'(a) * sigmoid'(z), or a - y for cross-entropy (seed 001).
        delta = output_delta(activations[-1], Y, zs[-1], cost)
        nabla_b[-1] = bias_gradient(delta)                       # dC/db = delta, summed (seed 001)
        nabla_w[-1] = weight_gradient(delta, activations[-2])    # delta x input (seed 000)
        # Hidden layers, last to first (seed 003: propagate the deltas backwards).
        for l in range(2, len(self.sizes)):
            delta = hidden_delta(delta, self.weights[-l + 1], zs[-l])  # (delta . W) * s'(z) (seeds 000, 004)
            nabla_b[-l] = bias_gradient(delta)
            nabla_w[-l] = weight_gradient(delta, activations[-l - 1])
        return nabla_w, nabla_b

    # ------------------------------------------------------------------ SGD (fast)
    def update_mini_batch(
        self,
        X,
        Y,
        eta: float,
        *,
        cost: str = "quadratic",
        l2: float = 0.0,
        n_train: int = 1,
        momentum: float = 0.0,
    ) -> None:
        """One step of gradient descent on the mini-batch (X (m, n_in), Y one-hot (m, n_out)).

        w <- (1 - eta*l2/n_train) w - (eta/m) sum(nabla_w),   b <- b - (eta/m) sum(nabla_b)
        (the book's update, with its L2 weight decay).  With ``momentum`` mu > 0 the step
        goes through the velocities: v <- mu v - (eta/m) sum(nabla); w <- (1 - eta*l2/n) w + v
        (decay applied directly to w, not accumulated in v; mu = 0 is exactly the rule above).

        The same gradient as :meth:`backprop`, computed for the whole batch at once with
        preallocated buffers.  X is best C-contiguous in the network's dtype; anything
        else is converted.
        """
        X = np.asarray(X)
        Y = np.asarray(Y)
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or Y.shape != (X.shape[0], self.sizes[-1]):
            raise ValueError(
                f"expected X (m, {self.sizes[0]}) and Y (m, {self.sizes[-1]}), got {X.shape} and {Y.shape}"
            )
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        m = X.shape[0]
        if m == 0:
            return
        packed = self._synced()
        if momentum and packed.vel is None:
            packed.attach_velocities(self, None)
        step = self._step_for(m, packed)
        np.copyto(self._work[m].x_rows, X, casting="same_kind")
        step(Y.T, _step_constants(eta / m, 1.0 - eta * l2 / n_train, momentum, cost, self.dtype))

    def sgd_epoch(
        self,
        X,
        Y,
        eta: float,
        batch_size: int = 10,
        *,
        order=None,
        cost: str = "quadratic",
        l2: float = 0.0,
        n_train: int | None = None,
        momentum: float = 0.0,
    ) -> None:
        """Run ``update_mini_batch`` over consecutive mini-batches of ``X[order]``, fast.

        This is the epoch loop for train.py: the caller shuffles (``order =
        rng.permutation(len(X))``, so the RNG stays the caller's), and each mini-batch
        is gathered with ``np.take(..., out=)`` straight into the preallocated work
        buffer instead of a fancy-index copy.  ``order`` may be a slice of a permutation
        (e.g. to update a progress bar between calls); a last short batch is used as is,
        like the book's ``mini_batches`` list.  ``n_train`` (for L2) defaults to len(X).
        Same arithmetic as calling ``update_mini_batch`` on each batch.
        """
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        X = np.asarray(X)
        Y = np.asarray(Y)
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or Y.shape != (X.shape[0], self.sizes[-1]):
            raise ValueError(
                f"expected X (N, {self.sizes[0]}) and Y (N, {self.sizes[-1]}), got {X.shape} and {Y.shape}"
            )
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        order = np.arange(X.shape[0]) if order is None else np.asarray(order, dtype=np.intp)
        if order.size and (order.min() < 0 or order.max() >= X.shape[0]):
            raise ValueError("order holds indices outside X")
        if n_train is None:
            n_train = X.shape[0]
        packed = self._synced()
        if momentum and packed.vel is None:
            packed.attach_velocities(self, None)
        decay = 1.0 - eta * l2 / n_train
        # The bound methods X.take / Y.take skip np.take's Python wrapper (~0.5 us a call).
        take_x, take_y = X.take, Y.take
        n_full = order.shape[0] // batch_size
        if n_full:
            step = self._step_for(batch_size, packed)
            work = self._work[batch_size]
            x_rows, y_rows, yT = work.x_rows, work.y_rows, work.y_rows.T
            constants = _step_constants(eta / batch_size, decay, momentum, cost, self.dtype)
            for idx in order[: n_full * batch_size].reshape(n_full, batch_size):
                take_x(idx, 0, x_rows, "clip")   # indices were checked above
                take_y(idx, 0, y_rows, "clip")
                step(yT, constants)
        rest = order[n_full * batch_size :]
        if rest.shape[0]:
            m = rest.shape[0]
            step = self._step_for(m, packed)
            work = self._work[m]
            take_x(rest, 0, work.x_rows, "clip")
            take_y(rest, 0, work.y_rows, "clip")
            step(work.y_rows.T, _step_constants(eta / m, decay, momentum, cost, self.dtype))


def _step_constants(c: float, decay: float, mu: float, cost: str, dtype: np.dtype) -> tuple:
    """The scalars of one SGD step, as ``step`` wants them: (c, -c, decay, mu, flags...).

    c = eta/m, decay = 1 - eta*l2/n, mu = momentum.  The numbers become 0-d arrays of the
    network's dtype: numpy takes ~0.45 us to apply a Python float in a ufunc call but ~0.2 us
    for a 0-d array, and the step makes a dozen such calls.  The values are the same
    (numpy casts a Python float to the array's dtype either way), so nothing numerical changes.
    """
    as_array = lambda value: np.array(value, dtype=dtype)  # noqa: E731
    return (as_array(c), as_array(-c), as_array(decay), as_array(mu),
            cost == "quadratic", decay != 1.0, bool(mu))


def _make_step(packed: _Packed, work: _Work):
    """Build ``step(yT, constants)``: forward + backward + update for the mini-batch already
    in ``work.x_rows`` (columns = examples inside); ``constants`` from :func:`_step_constants`.

    The algebra of :meth:`Network.backprop`, rearranged for speed:
      * z = [W | b] @ [a; 1]: the bias rides along as the last weight column, so the
        forward pass, the weight gradient and the update are one call each per layer;
      * sigmoid(z) = 0.5 tanh(0.5 z) + 0.5 in place; sigmoid'(z) = a (1 - a) from the
        stored activation (seed 002_003028a0d0a1b1e9.txt, eq. 2);
      * c = eta/m multiplies the output delta once; every gradient is linear in it;
      * each layer's G = delta @ [a_in; 1]^T is the sum over the batch of the outer
        products delta x input (seed 000_d2ba5a29ff86e6b8.txt), and
        delta_in = (W^T delta) * a_in (1 - a_in) (seed 004_1b3dd8781af032a7.txt: transposed
        weights) is computed before W is updated.
    Every array is bound here once, so a step is ~23 numpy calls (784-30-10) and no
    attribute or list lookups.  numpy calls pass ``out`` positionally (cheaper), and
    scalars are 0-d arrays (see :func:`_step_constants`).

    Where the time goes (textbook epoch, ~27 us a mini-batch): the two 784-wide products
    (forward W x and gradient delta x^T) take ~15 us however they are laid out, mostly a
    fixed cost per BLAS call, and the ~20 small calls and two gathers the rest.  Grouping
    several mini-batches into bigger products through their Gram matrix (exact: W after
    batch j is W_0 minus earlier deltas times inputs) was tried; the extra x_j . x_k
    products cost more than the calls it saves at these sizes.
    """
    mm, mul, add, sub, tanh = np.matmul, np.multiply, np.add, np.subtract, np.tanh
    half, one = (np.array(value, dtype=packed.params[0].dtype) for value in (0.5, 1.0))
    L = len(packed.params) - 1
    forward = tuple(zip(packed.params, work.inp, work.act))
    a_out, d_out, t_out = work.act[L], work.delta[L], work.tmp[L]
    vel = packed.vel if packed.vel is not None else [None] * (L + 1)
    backward = []
    for l in range(L, -1, -1):
        hidden = (packed.w_T[l], work.delta[l - 1], work.act[l - 1], work.tmp[l - 1]) if l else None
        backward.append((work.delta[l], work.grad[l], work.inp_T[l], hidden, packed.params[l], packed.w[l], vel[l]))
    backward = tuple(backward)

    def step(yT, constants: tuple) -> None:
        c, neg_c, decay, mu, quadratic, use_decay, use_momentum = constants
        for p, x, a in forward:       # a = sigmoid([W | b] @ [x; 1])
            mm(p, x, a)
            mul(a, half, a)
            tanh(a, a)
            mul(a, half, a)
            add(a, half, a)
        a, d, t = a_out, d_out, t_out
        sub(a, yT, d)                 # a - y  (cost derivative; seed 001 for cross-entropy)
        if quadratic:                 # (a - y) * sigmoid'(z) * eta/m
            mul(a, neg_c, t)
            add(t, c, t)              # c (1 - a)
            mul(t, a, t)
            mul(d, t, d)
        else:                         # cross-entropy: (a - y) * eta/m
            mul(d, c, d)
        for d, g, x_T, hidden, p, w, v in backward:
            mm(d, x_T, g)             # [dC/dw | dC/db] * eta/m = delta x [input; 1]  (seed 000)
            if hidden is not None:
                w_T, d_in, a_in, t = hidden
                mm(w_T, d, d_in)      # W^T delta  (seed 004: transposed weights)
                sub(one, a_in, t)
                mul(t, a_in, t)       # sigmoid'(z) = a (1 - a)  (seed 002)
                mul(d_in, t, d_in)
            if use_decay:
                mul(w, decay, w)      # L2 weight decay: weights only, not biases
            if use_momentum:
                mul(v, mu, v)         # v <- mu v - (eta/m) sum(grad)
                sub(v, g, v)
                add(p, v, p)          # w <- w + v
            else:
                sub(p, g, p)          # w <- w - (eta/m) sum(grad)

    return step
