"""scripts/benchmark.py and mnist_app.benchmark run and report the promised keys (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_measure_on_a_small_synthetic_set():
    """The package function the command calls: every figure present, the ratios its own."""
    from mnist_app.benchmark import measure, synthetic_mnist

    images, labels = synthetic_mnist(300)
    assert images.shape == (300, 784) and images.dtype.name == "float32" and labels.max() < 10
    r = measure(images, labels, source="synthetic", repeat=1, per_example_images=100)
    assert r["images_per_epoch"] == 300 and r["per_example_images_timed"] == 100 and r["per_example_extrapolated"]
    e = r["epoch_seconds"]
    assert all(e[k] > 0 for k in ("mnist_app", "mnist_app_update_mini_batch_loop", "per_example"))
    assert r["speedup"] == e["per_example"] / e["mnist_app"]
    assert r["images_per_second"]["mnist_app"] == 300 / e["mnist_app"]
    assert r["large_layer"]["images"] == 300 and r["large_layer"]["gflops"] > 0


@pytest.mark.slow
def test_benchmark_synthetic_json():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--synthetic", "--json", "--repeat", "1",
         "--per-example-images", "100"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["epoch_seconds"]) >= {"mnist_app", "per_example"}
    assert result["speedup"] == result["epoch_seconds"]["per_example"] / result["epoch_seconds"]["mnist_app"]
    assert result["per_example_extrapolated"] is True and result["per_example_images_timed"] == 100
    floor = result["floor"]
    assert floor["max_speedup"] == result["epoch_seconds"]["per_example"] / floor["layer_one_products_seconds"]
    assert result["large_layer"]["gflops"] > 0 and result["large_layer"]["sgemm_gflops"] > 0


def test_benchmark_help_has_examples_and_bad_repeat_is_usage_error():
    script = str(REPO / "scripts" / "benchmark.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "examples:" in out.stdout and "--synthetic" in out.stdout
    bad = subprocess.run([sys.executable, script, "--repeat", "0"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
