#!/usr/bin/env python3
"""Time and peak memory of loading hostile checkpoints (issue 13, D7/D8/D20).

    python scripts/bench_hostile_checkpoints.py [--bomb-mb 2048] [--layers 6000]

Builds each hostile file in a temporary folder, then loads it in a fresh child process
(``mnist_app.checkpoint.load_checkpoint``) and prints the outcome (refused with which message,
or accepted), the load time and the child's peak resident memory (VmHWM, Linux). The
baseline line is a fresh Python that imports numpy and mnist_app.checkpoint and loads nothing.
Results are recorded in docs/hardening.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from mnist_app.checkpoint import save_checkpoint  # noqa: E402
from mnist_app.hostile_checkpoints import npy_bytes, npy_header, rewrite, zeros_member  # noqa: E402
from mnist_app.network import Network  # noqa: E402

EXAMPLES = """examples:
  nice -n 10 python scripts/bench_hostile_checkpoints.py               # docs/hardening.md's table (2 GB bombs)
  python scripts/bench_hostile_checkpoints.py --bomb-mb 64 --layers 100  # a quick run
  python scripts/bench_hostile_checkpoints.py --json                   # one JSON object per case
"""

CHILD = """
import sys, time
t0 = time.perf_counter()
from mnist_app.checkpoint import load_checkpoint
from mnist_app.errors import CheckpointError
t1 = time.perf_counter()
try:
    if sys.argv[1] != "-":
        load_checkpoint(sys.argv[1])
    outcome = "accepted" if sys.argv[1] != "-" else "(nothing loaded)"
except CheckpointError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1]
except BaseException as exc:
    outcome = f"CRASH {type(exc).__name__}: {str(exc)[:80]}"
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(f"{time.perf_counter() - t1:.3f}\\t{int(peak) / 1024:.1f}\\t{outcome}")
"""


def build(folder: Path, bomb_bytes: int, layers: int) -> dict[str, Path]:
    valid = folder / "valid.npz"
    save_checkpoint(valid, Network((784, 30, 10), rng=0), {"epoch": 1})
    files = {"valid 784-30-10 (reference)": valid}

    extra = rewrite(valid, folder / "extra-member-bomb.npz",  # the bomb is a valid .npy
                    extra=lambda a: zeros_member(a, "unused.npy", npy_header((bomb_bytes // 4,)), bomb_bytes))
    files[f"extra member inflating to {bomb_bytes >> 20} MB"] = extra

    rows = bomb_bytes // 4 // 784
    weights = rewrite(valid, folder / "weights-bomb.npz", {"weights_0.npy": None},
                      lambda a: zeros_member(a, "weights_0.npy", npy_header((rows, 784)), rows * 784 * 4))
    files[f"weights_0 inflating to {bomb_bytes >> 20} MB"] = weights

    header = rewrite(valid, folder / "huge-header.npz", {"weights_0.npy": npy_header((100_000, 100_000)) + bytes(64)})
    files[".npy header claiming 100000x100000"] = header

    deep = rewrite(valid, folder / "deep-json.npz", {"meta.npy": npy_bytes(np.array("[" * 100_000 + "]" * 100_000))})
    files["meta JSON nested 100000 deep"] = deep

    # The worst a file can cost now: the largest network we load (just under MAX_PARAMETERS),
    # well-formed, refused only when its last array turns out to hold a NaN.
    from mnist_app.checkpoint import MAX_PARAMETERS

    hidden = (MAX_PARAMETERS - 10) // (784 + 1 + 10)
    largest = Network((784, hidden, 10), rng=0)
    largest.biases[-1][-1] = np.nan
    nan = folder / "largest-with-nan.npz"
    save_checkpoint(nan, largest, {})
    del largest
    files[f"784-{hidden}-10 (largest loaded), NaN at the end"] = nan

    tall = folder / "deep-network.npz"
    save_checkpoint(tall, Network((784,) + (1,) * layers + (10,), rng=0), {})
    files[f"{layers + 1} layers of one unit (valid)"] = tall
    return files


def measure(path: Path | None) -> tuple[str, str, float]:
    """(outcome, load seconds, peak MB) of loading ``path`` in a fresh child process.

    The peak is the child's own VmHWM (Linux): ``ru_maxrss`` of a child would start from this
    parent's size at fork time.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", CHILD, str(path) if path else "-"],
                            capture_output=True, text=True, env=env)
    fields = result.stdout.strip().split("\t", 2)
    if len(fields) != 3:
        return f"exit status {result.returncode}: {result.stderr.strip()[-80:]}", "?", float("nan")
    seconds, peak, outcome = fields
    return outcome, seconds, float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=EXAMPLES)
    parser.add_argument("--bomb-mb", type=int, default=2048, help="inflated size of the bomb members (MB)")
    parser.add_argument("--layers", type=int, default=6000, help="hidden layers of the deep-network case")
    parser.add_argument("--json", action="store_true", help="one JSON object per case instead of a table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        files = build(Path(tmp), args.bomb_mb << 20, args.layers)
        print(f"(built {len(files)} files in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        rows = [("baseline: import only", None)] + list(files.items())
        for label, path in rows:
            outcome, seconds, peak = measure(path)
            size = path.stat().st_size / 1e6 if path else 0.0
            if args.json:
                print(json.dumps({"case": label, "file_mb": round(size, 2), "load_s": seconds,
                                  "peak_rss_mb": round(peak, 1), "outcome": outcome}))
            else:
                print(f"{label:<40} {size:8.2f} MB file  {seconds:>7} s  peak {peak:7.1f} MB  {outcome[:90]}")


if __name__ == "__main__":
    main()
