"""`python scripts/benchmark.py`: how fast is mnist_app's training compared with the book's code?

What is timed, and how, is described in mnist_app/benchmark.py; this command loads the data,
calls :func:`mnist_app.benchmark.measure` and prints the result.

``--compare-threads`` reruns everything in subprocesses with OPENBLAS_NUM_THREADS=1 and
=2 (the BLAS thread count cannot be changed from inside a process once numpy is loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import add_data_options, load_data, make_parser, positive_int, run

PROG = "benchmark.py"
EXAMPLES = """
  python scripts/benchmark.py                         # real MNIST (downloaded if needed)
  python scripts/benchmark.py --synthetic --repeat 5  # random data of MNIST's shape, best of 5
  python scripts/benchmark.py --json                  # one JSON object on stdout
  python scripts/benchmark.py --synthetic --compare-threads   # OPENBLAS_NUM_THREADS=1 vs 2
"""


def _measure(args) -> dict:
    from mnist_app.benchmark import measure, synthetic_mnist

    if args.synthetic:
        images, labels, source = *synthetic_mnist(), "synthetic"
    else:
        data = load_data(args, quiet=args.quiet or args.json)
        images, labels, source = data.train_images, data.train_labels, "mnist"
    return measure(images, labels, source=source, repeat=args.repeat, per_example_images=args.per_example_images)


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
        f"  mnist_app fast_sgd.sgd_epoch (float32)         {e['mnist_app']:8.3f} s/epoch  "
        f"{ips['mnist_app']:>10,.0f} images/s",
        f"  readable update_mini_batch loop (float32)      {e['mnist_app_update_mini_batch_loop']:8.3f} s/epoch  "
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
    parser = make_parser(PROG, __doc__.split("\n\n")[0].replace("`", ""), EXAMPLES)
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
    result = _measure(args)
    print(json.dumps(result, indent=2) if args.json else _report(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
