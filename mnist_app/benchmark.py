"""How fast is mnist_app's training compared with the book's code? (``scripts/benchmark.py``)

:func:`measure` times, in one process and on the same data:

1. **mnist_app** -- one textbook epoch (50,000 images, 784-30-10, mini-batch 10, eta 3.0,
   quadratic cost, float32) through :func:`mnist_app.fast_sgd.sgd_epoch` (the loop train.py
   uses), and the same epoch through a Python loop calling the readable
   ``Network.update_mini_batch``.
2. **per_example** -- the book's own code (:class:`mnist_app.reference.BookNetwork`: column
   vectors, one backprop per example, float64 as the book did).  It is slow, so it is timed on a
   prefix of the epoch (``per_example_images``) and extrapolated to 50,000 (said so in the result).
3. **floor** -- the time of only the two 784-wide matrix products every textbook mini-batch
   needs (forward [W | b] @ [x; 1] and gradient delta @ [x; 1]^T, float32, cache-warm), once per
   mini-batch: no code that calls numpy once per product per mini-batch can beat it, so
   ``per_example / floor`` is the ceiling on the speed-up.
4. **large layers** -- 784-800-10 with mini-batch 100 (float32), GFLOP/s counting the forward
   and backward matrix products, next to numpy's own sgemm on a large square product and on
   the same shapes.
"""

from __future__ import annotations

import os
import time

import numpy as np

from mnist_app.fast_sgd import sgd_epoch
from mnist_app.network import Network, one_hot
from mnist_app.reference import BookNetwork

EPOCH_IMAGES = 50_000


def synthetic_mnist(n: int = EPOCH_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    """Random images and labels of MNIST's shape (benchmarks without a download)."""
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def measure(images, labels, *, source: str = "mnist", repeat: int = 3, per_example_images: int = 5000) -> dict:
    """Time everything listed in the module docstring; best of ``repeat`` runs each."""
    n = min(EPOCH_IMAGES, images.shape[0])
    X = np.ascontiguousarray(images[:n], dtype=np.float32)
    Y = one_hot(labels[:n])
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    eta, m = 3.0, 10

    # 1. mnist_app, the textbook epoch.
    net = Network((784, 30, 10), rng=0)
    sgd_epoch(net, X[:1000], Y[:1000], eta, m)            # warm-up: buffers, caches
    t_epoch = _best(lambda: sgd_epoch(net, X, Y, eta, m, order=order), repeat)

    def umb_loop() -> None:
        for start in range(0, n, m):
            idx = order[start : start + m]
            net.update_mini_batch(X[idx], Y[idx], eta)

    t_umb = _best(umb_loop, repeat)

    # 2. The book's per-example code, float64, on a prefix of the same shuffled epoch.
    k = min(n, max(m, per_example_images // m * m))
    book = BookNetwork((784, 30, 10), np.random.default_rng(0))
    Xb = X.astype(np.float64)
    Yb = Y.astype(np.float64)
    batches = [
        [(Xb[i].reshape(784, 1), Yb[i].reshape(10, 1)) for i in order[start : start + m]]
        for start in range(0, k, m)
    ]

    def book_epoch() -> None:
        for batch in batches:
            book.update_mini_batch(batch, eta)

    t_book_part = _best(book_epoch, max(1, min(repeat, 2)))
    t_book = t_book_part * n / k

    # 3. The floor: the two big products alone.
    t_floor = _best(lambda: _layer_one_products(X[:m], n // m), repeat)

    # 4. Large layers vs numpy's own sgemm.
    large = _large_layer(repeat, X, Y)

    return {
        "data": source,
        "images_per_epoch": n,
        "mini_batch": m,
        "epoch_seconds": {"mnist_app": t_epoch, "mnist_app_update_mini_batch_loop": t_umb, "per_example": t_book},
        "images_per_second": {"mnist_app": n / t_epoch, "mnist_app_update_mini_batch_loop": n / t_umb,
                              "per_example": n / t_book},
        "speedup": t_book / t_epoch,
        "floor": {"layer_one_products_seconds": t_floor, "max_speedup": t_book / t_floor},
        "per_example_images_timed": k,
        "per_example_extrapolated": k < n,
        "per_example_dtype": "float64",
        "mnist_app_dtype": "float32",
        "large_layer": large,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
        "repeat": repeat,
    }


def _layer_one_products(x_rows: np.ndarray, batches: int) -> None:
    """The two 784-wide products of a textbook mini-batch, ``batches`` times, nothing else."""
    m = x_rows.shape[0]
    x_aug = np.ones((m, 785), np.float32)
    x_aug[:, :784] = x_rows
    weights = np.random.default_rng(0).standard_normal((30, 785)).astype(np.float32)
    z = np.empty((30, m), np.float32)
    gradient = np.empty_like(weights)
    mm, x_T = np.matmul, x_aug.T
    for _ in range(batches):
        mm(weights, x_T, z)          # forward: [W | b] @ [x; 1]
        mm(z, x_aug, gradient)       # gradient: delta @ [x; 1]^T (z stands in for delta)


def _large_layer(repeat: int, X: np.ndarray, Y: np.ndarray) -> dict:
    sizes, m, n = (784, 800, 10), 100, min(10_000, X.shape[0])
    net = Network(sizes, init="scaled", rng=0)
    order = np.arange(n)
    sgd_epoch(net, X[:1000], Y[:1000], 0.1, m, cost="cross-entropy")
    t = _best(lambda: sgd_epoch(net, X[:n], Y[:n], 0.1, m, order=order, cost="cross-entropy"), repeat)
    # FLOPs of the matrix products per mini-batch (2 per multiply-add), biases included as
    # mnist_app computes them ([W | b] @ [a; 1]):  forward W_l a, weight gradient delta a^T
    # for every layer, and W^T delta for every layer but the first.
    flops = 0
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        flops += 2 * 2 * m * n_out * (n_in + 1)
        if l:
            flops += 2 * m * n_out * n_in
    total = flops * (n // m)
    gflops = total / t / 1e9
    a = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
    b = np.random.default_rng(2).random((2048, 2048), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    sgemm = 2 * 2048**3 / _best(lambda: np.matmul(a, b, out=c), max(3, repeat)) / 1e9
    # sgemm on this network's own biggest shape: (800 x 785) @ (785 x 100).
    w = np.random.default_rng(3).random((800, 785), dtype=np.float32)
    x = np.random.default_rng(4).random((785, m), dtype=np.float32)
    out = np.empty((800, m), np.float32)

    def shape_products() -> None:
        for _ in range(50):
            np.matmul(w, x, out=out)

    shape_sgemm = 50 * 2 * 800 * 785 * m / _best(shape_products, max(3, repeat)) / 1e9
    return {
        "sizes": list(sizes),
        "batch_size": m,
        "images": n,
        "seconds": t,
        "seconds_per_50k_epoch": t * EPOCH_IMAGES / n,
        "gflops": gflops,
        "sgemm_gflops": sgemm,
        "sgemm_same_shape_gflops": shape_sgemm,
        "fraction_of_sgemm": gflops / sgemm,
    }
