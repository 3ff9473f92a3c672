#!/usr/bin/env python3
"""Measure the web server (scripts/serve.py): latency, load and the browser's answer time.

examples:
    python scripts/benchmark_serve.py                  # starts its own server (shipped model)
    python scripts/benchmark_serve.py --url http://127.0.0.1:8000/ --pid 12345
    python scripts/benchmark_serve.py --requests 2000 --clients 8 --drawings 40 --json

Three measurements, printed (figures are recorded in docs/serve.md):

1. **server-side predict**: POST /api/predict of a canvas-like drawing (a 7 drawn with the page's
   stroke on a 280x280 white PNG), one request at a time; the median of the time the server
   spent (its ``server_ms``: decode + preprocess + classify + hidden layer; ``cpu_ms``, the CPU time
   of that work, which a busy machine does not inflate as much) and of the round trip.
2. **load**: REQUESTS predict requests from CLIENTS concurrent clients (threads, one HTTP
   session each); requests/s, p50/p99 latency, the number of errors (anything but 200), and the
   server's resident memory before and after (Linux /proc; needs --pid or a server started here).
3. **browser**: pointer-up to answer drawn, in headless Chromium (Playwright with Debian's
   chromium): DRAWINGS digits drawn with the mouse; the page records each interval
   (``window.mnistTimings``). Skipped with --no-browser.

Run it with ``nice -n 10`` on a shared machine; the figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing

PAD, STROKE = 280, 22  # the page's pad and pen (mnist_app/web/app.js)
SEVEN = [(70, 50), (210, 50), (120, 250)]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def canvas_png(points=SEVEN) -> bytes:
    """A drawing as the page sends it: black round-capped strokes on a white 280x280 PNG."""
    image = Image.new("RGB", (PAD, PAD), "white")
    draw = ImageDraw.Draw(image)
    draw.line(points, fill="black", width=STROKE, joint="curve")
    r = STROKE / 2
    for x, y in (points[0], points[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def server_side(url: str, n: int) -> dict:
    body = canvas_png()
    session = requests.Session()
    for _ in range(10):  # warm-up: first requests pay imports and thread start-up
        session.post(url + "api/predict", data=body, timeout=30)
    server_ms, cpu_ms, round_trip_ms = [], [], []
    for _ in range(n):
        started = time.perf_counter()
        r = session.post(url + "api/predict", data=body, timeout=30)
        round_trip_ms.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        server_ms.append(r.json()["server_ms"])
        cpu_ms.append(r.json()["cpu_ms"])
    return {
        "requests": n,
        "drawing_bytes": len(body),
        "answer": r.json()["digit"],
        "server_ms_median": statistics.median(server_ms),
        "server_ms_p99": percentile(server_ms, 99),
        "server_cpu_ms_median": statistics.median(cpu_ms),
        "round_trip_ms_median": statistics.median(round_trip_ms),
    }


def load(url: str, n: int, clients: int, pid: int | None, bodies: list[bytes]) -> dict:
    local = threading.local()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            r = session.post(url + "api/predict", data=bodies[i % len(bodies)], timeout=60)
            ok = r.status_code == 200
            problem = f"HTTP {r.status_code}: {r.text[:100]}"
        except requests.RequestException as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            if not ok:
                errors.append(problem)

    before = rss_mb(pid)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    seconds = time.perf_counter() - started
    return {
        "requests": n,
        "clients": clients,
        "seconds": round(seconds, 2),
        "requests_per_second": round(n / seconds, 1),
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p99": round(percentile(latencies, 99), 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "rss_mb_before": before,
        "rss_mb_after": rss_mb(pid),
    }


def browser(url: str, drawings: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = chrome.new_page(viewport={"width": 1000, "height": 760})
        page.goto(url)
        box = page.locator("#pad").bounding_box()
        k = box["width"] / PAD
        shapes = [SEVEN, [(140, 40), (138, 240)], [(60, 60), (220, 60), (60, 240), (220, 240)]]
        for i in range(drawings + 3):  # the first three warm up
            page.click("#clear")
            before = page.evaluate("window.mnistTimings.length")
            points = shapes[i % len(shapes)]
            page.mouse.move(box["x"] + points[0][0] * k, box["y"] + points[0][1] * k)
            page.mouse.down()
            for (x0, y0), (x1, y1) in zip(points, points[1:]):
                for t in (0.25, 0.5, 0.75, 1.0):
                    page.mouse.move(box["x"] + (x0 + t * (x1 - x0)) * k, box["y"] + (y0 + t * (y1 - y0)) * k)
            page.mouse.up()
            for _ in range(400):
                if page.evaluate(f"window.mnistTimings.length > {before}"):
                    break
                page.wait_for_timeout(10)
            page.wait_for_timeout(150)  # let any request queued behind it finish
        timings = page.evaluate("window.mnistTimings")
        weight = page.evaluate(
            "performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))"
            ".filter(e => !e.name.includes('/api/')).reduce((s, e) => s + e.transferSize, 0)"
        )
        chrome.close()
    # one timing per pen-up; drop the warm-up drawings' ones
    measured = timings[3:] if len(timings) > 3 else timings
    return {
        "drawings": drawings,
        "pointer_up_to_answer_ms_median": round(statistics.median(measured), 1),
        "pointer_up_to_answer_ms_p90": round(percentile(measured, 90), 1),
        "page_transfer_bytes": weight,
    }


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    import tempfile

    collect = tempfile.mkdtemp(prefix="bench-serve-")
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "scripts" / "serve.py"), "--port", "0", "--model", model,
         "--collect", collect],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    found = re.search(r"(http://\S+/)", line)
    if not found:
        proc.kill()
        raise SystemExit(f"benchmark_serve.py: error: server did not start: {line}{proc.stderr.read()}")
    return proc, found.group(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start scripts/serve.py here)")
    parser.add_argument("--pid", type=int, help="the running server's process id, for its memory figures")
    parser.add_argument("--model", default="shipped", help="model for the server started here (default shipped)")
    parser.add_argument("--single", type=int, default=200, help="sequential requests for the server-side median")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the load test (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the load test (default 8)")
    parser.add_argument("--images", metavar="DIR", help="also send these folder's PNGs in the load test")
    parser.add_argument("--drawings", type=int, default=30, help="drawings timed in the browser (default 30)")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser measurement")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)

    proc = None
    url, pid = args.url, args.pid
    if url is None:
        proc, url = start_server(args.model)
        pid = proc.pid
    url = url if url.endswith("/") else url + "/"
    try:
        result = {"url": url, "model": requests.get(url + "api/model", timeout=30).json()["description"],
                  "load_average": " ".join(f"{v:.1f}" for v in os.getloadavg()), "cpus": os.cpu_count()}
        result["server_side"] = server_side(url, args.single)
        bodies = [canvas_png()]
        if args.images:
            bodies += [p.read_bytes() for p in sorted(Path(args.images).glob("*.png"))[:200]]
        result["load"] = load(url, args.requests, args.clients, pid, bodies)
        if not args.no_browser:
            result["browser"] = browser(url, args.drawings, args.chromium)
    except KeyboardInterrupt:
        print("benchmark_serve.py: error: interrupted", file=sys.stderr)
        return 130
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
    if args.json:
        print(json.dumps(result))
        return 0
    s, l = result["server_side"], result["load"]
    print(f"server:   {url}  model {result['model']}; machine load average {result['load_average']}")
    print(f"predict:  canvas drawing ({s['drawing_bytes']:,} bytes PNG, answer {s['answer']}): server-side median "
          f"{s['server_ms_median']:.2f} ms (p99 {s['server_ms_p99']:.2f}; CPU {s['server_cpu_ms_median']:.2f} ms), "
          f"round trip median "
          f"{s['round_trip_ms_median']:.2f} ms over {s['requests']} requests")
    mem = (f", server memory {l['rss_mb_before']:.0f} -> {l['rss_mb_after']:.0f} MB"
           if l["rss_mb_before"] is not None and l["rss_mb_after"] is not None else "")
    print(f"load:     {l['requests']} requests from {l['clients']} clients in {l['seconds']} s: "
          f"{l['requests_per_second']} req/s, p50 {l['latency_ms_p50']} ms, p99 {l['latency_ms_p99']} ms, "
          f"{l['errors']} errors{mem}")
    if "browser" in result:
        b = result["browser"]
        print(f"browser:  pointer-up to answer drawn: median {b['pointer_up_to_answer_ms_median']} ms, "
              f"p90 {b['pointer_up_to_answer_ms_p90']} ms over {b['drawings']} drawings; "
              f"page {b['page_transfer_bytes']:,} bytes")
    return 0 if l["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
