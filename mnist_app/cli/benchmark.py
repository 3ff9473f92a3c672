"""`python scripts/benchmark.py`: how fast is mnist_app's training compared with the book's code?

Measured in one run, on the same data:

1. **mnist_app** -- one textbook epoch (50,000 images, 784-30-10, mini-batch 10, eta 3.0,
   quadratic cost, float32) through ``Network.sgd_epoch`` (the loop train.py uses), and
   the same epoch through a plain Python loop calling ``Network.update_mini_batch``.
2. **per_example** -- a plain implementation of the book's algorithm written below
   (Nielsen's network.py: column vectors, one backprop per example, gradients summed
   over the mini-batch, float64 as the book did).  It is slow, so by default it is
   timed on the first 5,000 images of the epoch and extrapolated to 50,000 (said so
   in the output).
3. **floor** -- the time of only the two 784-wide matrix products every textbook
   mini-batch needs (forward [W | b] @ [x; 1] and gradient delta @ [x; 1]^T, 30x785 by 785x10
   and back, float32, cache-warm), 5,000 times: no code that calls numpy once per product
   per mini-batch can beat it, so ``per_example / floor`` is the ceiling on the speedup.
4. **large layers** -- 784-800-10 with mini-batch 100 (float32), GFLOP/s counting the
   forward and backward matrix products, next to numpy's own sgemm GFLOP/s on a
   large square product and on the same shapes, measured in the same process.

``--compare-threads`` reruns everything in subprocesses with OPENBLAS_NUM_THREADS=1 and
=2 (the BLAS thread count cannot be changed from inside a process once numpy is loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_app.cli.common import add_data_options, load_data, make_parser, positive_int, run

PROG = "benchmark.py"
EXAMPLES = """
  python scripts/benchmark.py                         # real MNIST (downloaded if needed)
  python scripts/benchmark.py --synthetic --repeat 5  # random data of MNIST's shape, best of 5
  python scripts/benchmark.py --json                  # one JSON object on stdout
  python scripts/benchmark.py --synthetic --compare-threads   # OPENBLAS_NUM_THREADS=1 vs 2
"""
EPOCH_IMAGES = 50_000


# --------------------------------------------------------------------------- the book's code
class BookNetwork:
    """Nielsen's network.py, per example, float64 column vectors (the baseline).

    feedforward / backprop / update_mini_batch are the book's, line for line in spirit:
    a (784, 1) column per image, ``np.dot(w, a) + b``, a Python loop over the examples
    of each mini-batch, gradients summed, then ``w - (eta/m) * nabla_w``.
    """

    def __init__(self, sizes: Sequence[int], rng: np.random.Generator) -> None:
        self.sizes = list(sizes)
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def update_mini_batch(self, mini_batch, eta: float) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = _book_sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * _book_sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(self.sizes)):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * _book_sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w


def _book_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _book_sigmoid_prime(z):
    return _book_sigmoid(z) * (1 - _book_sigmoid(z))


# --------------------------------------------------------------------------- timing helpers
def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _load(args) -> tuple[np.ndarray, np.ndarray, str]:
    if args.synthetic:
        rng = np.random.default_rng(0)
        return rng.random((EPOCH_IMAGES, 784), dtype=np.float32), rng.integers(0, 10, EPOCH_IMAGES), "synthetic"

    data = load_data(args, quiet=args.quiet or args.json)
    return data.train_images, data.train_labels, "mnist"


def measure(args) -> dict:
    from mnist_app.network import Network, one_hot

    images, labels, source = _load(args)
    n = min(EPOCH_IMAGES, images.shape[0])
    X = np.ascontiguousarray(images[:n], dtype=np.float32)
    Y = one_hot(labels[:n])
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    eta, m = 3.0, 10

    # 1. mnist_app, the textbook epoch.
    net = Network((784, 30, 10), rng=0)
    net.sgd_epoch(X[:1000], Y[:1000], eta, m)            # warm-up: buffers, caches
    t_epoch = _best(lambda: net.sgd_epoch(X, Y, eta, m, order=order), args.repeat)

    def umb_loop() -> None:
        x_buf = np.empty((m, 784), np.float32)
        y_buf = np.empty((m, 10), np.float32)
        for start in range(0, n, m):
            idx = order[start : start + m]
            np.take(X, idx, axis=0, out=x_buf)
            np.take(Y, idx, axis=0, out=y_buf)
            net.update_mini_batch(x_buf, y_buf, eta)

    t_umb = _best(umb_loop, args.repeat)

    # 2. The book's per-example code, float64, on a prefix of the same shuffled epoch.
    k = min(n, max(m, args.per_example_images // m * m))
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

    t_book_part = _best(book_epoch, max(1, min(args.repeat, 2)))
    t_book = t_book_part * n / k

    # 3. The floor: the two big products alone.
    t_floor = _best(lambda: _layer_one_products(X[:m], n // m), args.repeat)

    # 4. Large layers vs numpy's own sgemm.
    large = _large_layer(args.repeat, X, Y)

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
        "repeat": args.repeat,
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
    from mnist_app.network import Network

    sizes, m, n = (784, 800, 10), 100, min(10_000, X.shape[0])
    net = Network(sizes, init="scaled", rng=0)
    order = np.arange(n)
    net.sgd_epoch(X[:1000], Y[:1000], 0.1, m, cost="cross-entropy")
    t = _best(lambda: net.sgd_epoch(X[:n], Y[:n], 0.1, m, order=order, cost="cross-entropy"), repeat)
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


def _report(r: dict) -> str:
    e, ips, big = r["epoch_seconds"], r["images_per_second"], r["large_layer"]
    extrap = (
        f" (timed on {r['per_example_images_timed']:,} images, extrapolated to {r['images_per_epoch']:,})"
        if r["per_example_extrapolated"] else ""
    )
    return "\n".join([
        f"One textbook epoch: {r['images_per_epoch']:,} {r['data']} images, 784-30-10, mini-batch "
        f"{r['mini_batch']}, best of {r['repeat']}"
        f" (OPENBLAS_NUM_THREADS={r['openblas_num_threads'] or 'default'}, {r['cpu_count']} CPUs)",
        f"  mnist_app Network.sgd_epoch (float32)          {e['mnist_app']:8.3f} s/epoch  "
        f"{ips['mnist_app']:>10,.0f} images/s",
        f"  mnist_app update_mini_batch loop (float32)     {e['mnist_app_update_mini_batch_loop']:8.3f} s/epoch  "
        f"{ips['mnist_app_update_mini_batch_loop']:>10,.0f} images/s",
        f"  book's per-example backprop (float64)          {e['per_example']:8.3f} s/epoch  "
        f"{ips['per_example']:>10,.0f} images/s{extrap}",
        f"  speedup (per_example / mnist_app)              {r['speedup']:8.1f} x",
        f"  floor: the two 784-wide products alone         {r['floor']['layer_one_products_seconds']:8.3f} s/epoch  "
        f"(caps the speedup at {r['floor']['max_speedup']:.1f} x)",
        f"Large layers: {'-'.join(map(str, big['sizes']))}, mini-batch {big['batch_size']}, float32, "
        f"{big['images']:,} images",
        f"  mnist_app forward+backward                     {big['gflops']:8.1f} GFLOP/s  "
        f"({big['seconds_per_50k_epoch']:.2f} s per 50k epoch)",
        f"  numpy sgemm 2048x2048                          {big['sgemm_gflops']:8.1f} GFLOP/s  "
        f"(mnist_app reaches {100 * big['fraction_of_sgemm']:.0f}%)",
        f"  numpy sgemm (800x785)@(785x100)                {big['sgemm_same_shape_gflops']:8.1f} GFLOP/s",
    ])


def _compare_threads(argv: Sequence[str], args) -> int:
    """Rerun this benchmark with OPENBLAS_NUM_THREADS=1 and =2 in fresh processes."""
    repo = Path(__file__).resolve().parent.parent.parent
    child_argv = [a for a in argv if a not in ("--compare-threads", "--json")] + ["--json"]
    results = {}
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
        proc = subprocess.run([sys.executable, "-m", "mnist_app.cli.benchmark", *child_argv],
                              env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr, end="", file=sys.stderr)
            return proc.returncode
        results[threads] = json.loads(proc.stdout)
    if args.json:
        print(json.dumps({"by_openblas_num_threads": results}, indent=2))
    else:
        for threads, r in results.items():
            print(f"--- OPENBLAS_NUM_THREADS={threads}")
            print(_report(r))
    return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = make_parser(PROG, __doc__.split("\n\n")[0].strip("`"), EXAMPLES)
    add_data_options(parser)
    parser.add_argument("--synthetic", action="store_true", help="random data of MNIST's shape (no download)")
    parser.add_argument("--repeat", type=positive_int, default=3, metavar="N", help="best of N timings (default 3)")
    parser.add_argument("--per-example-images", type=positive_int, default=5000, metavar="N",
                        help="images the slow per-example code is timed on, then extrapolated (default 5000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--compare-threads", action="store_true",
                        help="run twice in subprocesses: OPENBLAS_NUM_THREADS=1 and 2")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.compare_threads:
        return _compare_threads(argv, args)
    result = measure(args)
    print(json.dumps(result, indent=2) if args.json else _report(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
