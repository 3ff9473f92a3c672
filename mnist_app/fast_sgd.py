"""The training loop's hot path: :meth:`Network.update_mini_batch` arranged for speed.

:func:`sgd_epoch` takes one gradient step for each consecutive mini-batch of ``X[order]``,
the same rule as calling ``network.update_mini_batch`` on each (equal up to rounding: the
sums are added in another order; the fast path always gives the same bits for the same
input).

Why it is shaped as it is: a textbook mini-batch is tiny (10 images through 784-30-10), so
the time of a step is mostly the fixed cost of each numpy call, not arithmetic.  Everything
below removes calls or Python work per mini-batch:

* each layer's weights and biases live in one array ``[W | b]``, and each layer's input gets a
  constant last row of ones, so z = [W | b] @ [a; 1] (forward), the gradient
  delta @ [a; 1]^T (BP3 and BP4 at once) and the update are one numpy call each per layer;
* activations are stored as columns (examples inside); every temporary is allocated once per
  batch size and every numpy call writes into it (``out``, passed positionally);
* c = eta/m multiplies the output delta once (every gradient is linear in it);
* sigmoid'(z) = a (1 - a) from the stored activation;
* each mini-batch is gathered with ``X.take(..., out=)`` straight into the work buffer;
* the step is a closure with every array bound once: no attribute or list lookups inside;
* scalars are 0-d arrays of the network's dtype, which numpy applies faster than Python
  floats (the values are the same: numpy casts a float to the array's dtype either way).

The measurements behind these choices are in docs/results-network.md.

State: the first call packs the network's parameters; ``network.weights``, ``biases`` and
``velocities`` then become views into the packed arrays, so they stay current without copies.
If someone puts new arrays into those lists (loading a checkpoint, the readable
``update_mini_batch``), the next call notices (by identity) and packs again.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from mnist_app.network import CrossEntropyCost, Network, QuadraticCost, as_cost

#: How many different mini-batch sizes keep their work buffers cached (per network).
_MAX_CACHED_BATCH_SIZES = 4


def sgd_epoch(
    network: Network,
    X,
    Y,
    eta: float,
    batch_size: int = 10,
    *,
    order=None,
    cost="quadratic",
    l2: float = 0.0,
    n_train: int | None = None,
    momentum: float = 0.0,
) -> None:
    """One step of ``network.update_mini_batch`` for each consecutive mini-batch of ``X[order]``.

    X (N, sizes[0]) is best C-contiguous in the network's dtype, Y (N, sizes[-1]) one-hot.
    The caller shuffles (``order = rng.permutation(len(X))``, so the random generator stays
    the caller's); ``order`` may be a slice of a permutation (e.g. to update a progress bar
    between calls); a last short batch is used as is, like the book's ``mini_batches`` list.
    ``cost`` is a name in ``network.COSTS`` or a cost class; ``n_train`` (for L2) defaults to len(X).
    """
    cost = as_cost(cost)
    X = np.asarray(X)
    Y = np.asarray(Y)
    sizes = network.sizes
    if X.ndim != 2 or X.shape[1] != sizes[0] or Y.shape != (X.shape[0], sizes[-1]):
        raise ValueError(f"expected X (N, {sizes[0]}) and Y (N, {sizes[-1]}), got {X.shape} and {Y.shape}")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = np.arange(X.shape[0]) if order is None else np.asarray(order, dtype=np.intp)
    if order.size and (order.min() < 0 or order.max() >= X.shape[0]):
        raise ValueError("order holds indices outside X")
    if n_train is None:
        n_train = X.shape[0]
    state = _state_of(network)
    packed = state.synced(network)
    if momentum and packed.vel is None:
        packed.attach_velocities(network, None)
    decay = 1.0 - eta * l2 / n_train
    # The bound methods X.take / Y.take skip np.take's Python wrapper (~0.5 us a call).
    take_x, take_y = X.take, Y.take
    n_full = order.shape[0] // batch_size
    if n_full:
        step = state.step_for(batch_size, packed)
        work = state.work[batch_size]
        x_rows, y_rows, yT = work.x_rows, work.y_rows, work.y_rows.T
        constants = _step_constants(eta / batch_size, decay, momentum, cost, network.dtype)
        for idx in order[: n_full * batch_size].reshape(n_full, batch_size):
            take_x(idx, 0, x_rows, "clip")   # indices were checked above
            take_y(idx, 0, y_rows, "clip")
            step(yT, constants)
    rest = order[n_full * batch_size :]
    if rest.shape[0]:
        m = rest.shape[0]
        step = state.step_for(m, packed)
        work = state.work[m]
        take_x(rest, 0, work.x_rows, "clip")
        take_y(rest, 0, work.y_rows, "clip")
        step(work.y_rows.T, _step_constants(eta / m, decay, momentum, cost, network.dtype))


# --------------------------------------------------------------------------- #
# Per-network state: packed parameters and work buffers
# --------------------------------------------------------------------------- #
class _Work:
    """Preallocated arrays for one mini-batch size m (activations stored as columns).

    For layer l with n_in inputs and n_out outputs:
      inp[l]  (n_in + 1, m)  its input with a last row of ones (so the bias is just the
                              last column of the packed weight matrix);
      act[l]  (n_out, m)     its activations (for hidden layers: the top block of the
                              next layer's ``inp``, so no copy is made);
      delta[l], tmp[l] (n_out, m);  grad[l] (n_out, n_in + 1) = [dC/dw | dC/db] * eta/m.
    ``x_rows`` is ``inp[0]`` seen as (m, n_in) rows: X.take writes a batch straight into it.
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
        self.step = self.step_packed = self.step_vel = None   # see _State.step_for


class _Packed:
    """Each layer's [W | b] in one array; the network's weights/biases become views into it."""

    def __init__(self, network: Network) -> None:
        sizes, dtype = network.sizes, network.dtype
        L = len(sizes) - 1
        if len(network.weights) != L or len(network.biases) != L:
            raise ValueError(f"expected {L} weight and bias arrays for sizes {sizes}")
        for l, (w, b) in enumerate(zip(network.weights, network.biases)):
            want_w, want_b = (sizes[l + 1], sizes[l]), (sizes[l + 1],)
            if np.shape(w) != want_w or np.shape(b) != want_b:
                raise ValueError(
                    f"layer {l}: weights {np.shape(w)} / biases {np.shape(b)}, expected {want_w} / {want_b}"
                )
        if network.velocities is not None:
            shapes = [w.shape for w in network.weights] + [b.shape for b in network.biases]
            if len(network.velocities) != 2 * L or any(
                np.shape(v) != s for v, s in zip(network.velocities, shapes)
            ):
                raise ValueError("velocities must be weight-shaped then bias-shaped arrays")
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

    def attach_velocities(self, network: Network, velocities) -> None:
        n = len(self.params)
        self.vel = [np.zeros_like(p) for p in self.params]
        if velocities is not None:
            for v, src in zip(self.vel, velocities[:n]):
                v[:, :-1] = src
            for v, src in zip(self.vel, velocities[n:]):
                v[:, -1] = src
        self.vel_views = [v[:, :-1] for v in self.vel] + [v[:, -1] for v in self.vel]
        network.velocities = list(self.vel_views)

    def in_sync(self, network: Network) -> bool:
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


class _State:
    """A network's packed parameters and its work buffers and compiled steps, per batch size."""

    def __init__(self, sizes: tuple[int, ...], dtype: np.dtype) -> None:
        self.sizes, self.dtype = sizes, dtype
        self.packed: _Packed | None = None
        self.work: dict[int, _Work] = {}

    def synced(self, network: Network) -> _Packed:
        if self.packed is None or not self.packed.in_sync(network):
            self.packed = _Packed(network)
        return self.packed

    def step_for(self, m: int, packed: _Packed):
        """The compiled step for batch size m (work buffers cached per m)."""
        work = self.work.get(m)
        if work is None:
            if len(self.work) >= _MAX_CACHED_BATCH_SIZES:
                self.work.clear()
            work = self.work[m] = _Work(self.sizes, m, self.dtype)
        if work.step is None or work.step_packed is not packed or work.step_vel is not packed.vel:
            work.step = _make_step(packed, work)
            work.step_packed, work.step_vel = packed, packed.vel
        return work.step


# Keyed weakly: the state lives as long as its network, and copies or pickles of a network
# carry none of it (they pack afresh on their first epoch).
_STATES: weakref.WeakKeyDictionary[Network, _State] = weakref.WeakKeyDictionary()


def _state_of(network: Network) -> _State:
    state = _STATES.get(network)
    if state is None:
        state = _STATES[network] = _State(network.sizes, network.dtype)
    return state


# --------------------------------------------------------------------------- #
# One compiled step
# --------------------------------------------------------------------------- #
def _step_constants(c: float, decay: float, mu: float, cost, dtype: np.dtype) -> tuple:
    """The scalars of one SGD step, as ``step`` wants them: (c, -c, decay, mu, flags...).

    c = eta/m, decay = 1 - eta*l2/n, mu = momentum; numbers as 0-d arrays of the network's dtype.
    """
    if cost not in (QuadraticCost, CrossEntropyCost):
        raise ValueError(f"the fast path knows the quadratic and cross-entropy costs only, got {cost!r}")
    as_array = lambda value: np.array(value, dtype=dtype)  # noqa: E731
    return (as_array(c), as_array(-c), as_array(decay), as_array(mu),
            cost is QuadraticCost, decay != 1.0, bool(mu))


def _make_step(packed: _Packed, work: _Work):
    """Build ``step(yT, constants)``: forward + backward + update for the mini-batch already
    in ``work.x_rows``; ``constants`` from :func:`_step_constants`.

    The algebra of ``Network.backprop`` and ``update_mini_batch``, per layer:
      * a = sigmoid([W | b] @ [x; 1]), sigmoid as 0.5 tanh(0.5 z) + 0.5 in place;
      * output delta (BP1) times c: quadratic (a - y) * c (1 - a) a, cross-entropy (a - y) c;
      * G = delta @ [a_in; 1]^T = c [nabla_w | nabla_b] (BP4 and BP3: the batch's outer
        products delta x input, summed);
      * delta_in = (W^T delta) * a_in (1 - a_in) (BP2, the transposed-weights rule for hidden
        errors), computed before W is updated;
      * [W | b] -= G, or through the velocity with momentum; L2 decay scales W only.
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
        sub(a, yT, d)                 # a - y
        if quadratic:                 # BP1: (a - y) * sigmoid'(z) * eta/m
            mul(a, neg_c, t)
            add(t, c, t)              # c (1 - a)
            mul(t, a, t)
            mul(d, t, d)
        else:                         # cross-entropy: (a - y) * eta/m
            mul(d, c, d)
        for d, g, x_T, hidden, p, w, v in backward:
            mm(d, x_T, g)             # BP3 + BP4: [nabla_w | nabla_b] * eta/m = delta x [input; 1]
            if hidden is not None:
                w_T, d_in, a_in, t = hidden
                mm(w_T, d, d_in)      # BP2: W^T delta ...
                sub(one, a_in, t)
                mul(t, a_in, t)       # ... * sigmoid'(z), sigmoid'(z) = a (1 - a)
                mul(d_in, t, d_in)
            if use_decay:
                mul(w, decay, w)      # L2 weight decay: weights only, not biases
            if use_momentum:
                mul(v, mu, v)         # v <- mu v - (eta/m) nabla
                sub(v, g, v)
                add(p, v, p)          # p <- p + v
            else:
                sub(p, g, p)          # p <- p - (eta/m) nabla

    return step
