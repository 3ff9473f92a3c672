"""The web server's API against a real uvicorn process (scripts/serve.py) on 127.0.0.1."""

from __future__ import annotations

import base64
import concurrent.futures
import csv
import io
import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw

from serve_fixtures import REPO_ROOT, running_server, shipped_model

MAX_BODY = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(workdir):
    with running_server(workdir / "collected", workdir) as running:
        yield running


@pytest.fixture(scope="module")
def dev_items(digits_dev_dir) -> list[tuple[Path, int]]:
    """Three digits-dev images of every digit (the first in manifest order)."""
    with (digits_dev_dir / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    items: list[tuple[Path, int]] = []
    for digit in range(10):
        items += [(digits_dev_dir / r["file"], digit) for r in rows if int(r["label"]) == digit][:3]
    return items


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid little PNG whose header claims width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def save(server, data: bytes, label="3", *, token=None, headers=None, **params) -> requests.Response:
    hdrs = {"x-mnist-token": server.token if token is None else token, **(headers or {})}
    return requests.post(server.url + "api/samples", params={"label": label, **params}, data=data,
                         headers=hdrs, timeout=30)


def manifest_rows(folder: Path) -> list[dict]:
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------ the page


def test_page_is_self_contained_small_and_carries_a_token(server):
    page = requests.get(server.url, timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert len(server.token) >= 20 and "{{TOKEN}}" not in page.text
    total = len(page.content)
    for path, kind in (("app.js", "javascript"), ("app.css", "text/css")):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert not re.search(r"https?://", r.text), f"{path} names another host"
        total += len(r.content)
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    assert total <= 100 * 1024
    assert 'accept="image/*" capture' in page.text


def test_model_and_health(server):
    model = requests.get(server.url + "api/model", timeout=10).json()
    assert model["sizes"] == [784, 800, 10]
    assert model["path"] == str(shipped_model())
    assert model["mnist_test_accuracy"] == json.loads(shipped_model().with_suffix(".json").read_text())["results"][
        "mnist_test_accuracy"
    ]
    assert requests.get(server.url + "healthz", timeout=10).json() == {"ok": True}
    assert any("784-800-10" in line for line in server.stdout_lines)


# ----------------------------------------------------------------------------------- predict


@pytest.mark.slow
def test_predict_digits_dev_matches_the_cli_code_path(server, dev_items):
    from mnist_app.predict import classify_files, load_model

    network, _ = load_model(shipped_model())
    expected = classify_files(network, [p for p, _ in dev_items])
    correct = 0
    for (path, label), cli in zip(dev_items, expected):
        r = requests.post(server.url + "api/predict", params={"name": path.name}, data=path.read_bytes(), timeout=30)
        assert r.status_code == 200, r.text
        a = r.json()
        # float32: one image alone and a batch of many are summed in a different order (1.3e-6 seen)
        assert a["digit"] == cli.digit and a["confidence"] == pytest.approx(cli.confidence, abs=1e-5)
        assert a["input"] == pytest.approx(cli.input.tolist(), abs=6e-4)
        assert sum(a["probabilities"]) == pytest.approx(1.0) and len(a["probabilities"]) == 10
        assert a["unsure"] == cli.unsure and a["unsure_reason"] == cli.unsure_reason
        assert a["hidden"]["size"] == 800 and len(base64.b64decode(a["hidden"]["activations_u8"])) == 800
        assert len(a["hidden"]["top"]) == 8
        assert all(len(base64.b64decode(u["weights_u8"])) == 784 for u in a["hidden"]["top"])
        acts = [u["activation"] for u in a["hidden"]["top"]]
        assert acts == sorted(acts, reverse=True)
        correct += a["digit"] == label
    assert correct >= 0.8 * len(dev_items)


def drawn(width: int, strokes) -> bytes:
    """Black strokes 22 px wide on a white PNG, as the page's pad draws them."""
    image = Image.new("L", (width, 280), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=22, joint="curve")
    return png(image)


def test_an_image_of_several_digits_is_read_as_a_number_like_the_cli(server, tmp_path):
    from mnist_app.predict import classify_files, load_model

    data = drawn(600, [[(100, 40), (98, 240)], [(250, 50), (390, 50), (300, 250)], [(470, 40), (468, 240)]])
    (tmp_path / "171.png").write_bytes(data)
    network, _ = load_model("shipped")
    cli = classify_files(network, [tmp_path / "171.png"])[0]
    a = requests.post(server.url + "api/predict", data=data, timeout=30).json()
    assert a["number"] == cli.number == "171"
    assert a["digit"] is None and a["input"] is None and a["probabilities"] is None
    assert a["unsure"] == cli.unsure and a["confidence"] == pytest.approx(cli.confidence)
    assert [d["digit"] for d in a["digits"]] == [1, 7, 1]
    assert [d["box"] for d in a["digits"]] == [list(d.box) for d in cli.digits]
    for part, mine in zip(a["digits"], cli.digits):
        assert part["input"] == pytest.approx(mine.input.tolist(), abs=6e-4)
        assert len(part["probabilities"]) == 10 and part["hidden"]["size"] == 800
    # a label is for one digit: a number is not saved as a sample
    r = save(server, data, label="1")
    assert r.status_code == 422 and "3 digits" in r.json()["error"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"", 422, "empty"),
        (b"this is not a picture", 422, "not an image"),
        (png(Image.new("L", (200, 200), 255)), 422, "no digit found"),
        (png(Image.new("RGB", (64, 64), (30, 90, 200))), 422, "no digit found"),
        (png_declaring(100_000, 100_000), 422, "decompression bomb"),
        (png(Image.new("L", (300, 300), 255))[:200], 422, "truncated"),
    ],
    ids=["empty", "not-an-image", "blank-white", "blank-blue", "bomb", "truncated"],
)
def test_predict_bad_input_gets_one_line_error(server, body, status, message):
    r = requests.post(server.url + "api/predict", params={"name": "mine.png"}, data=body, timeout=30)
    assert r.status_code == status
    error = r.json()["error"]
    assert message in error and "\n" not in error and error.startswith("mine.png: ")


def test_body_over_the_limit_is_413_by_length_and_by_counting(server):
    big = b"\0" * (MAX_BODY + 1)
    r = requests.post(server.url + "api/predict", data=big, timeout=60)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    # chunked transfer: no Content-Length, the server counts what arrives
    chunks = (big[i : i + (1 << 20)] for i in range(0, len(big), 1 << 20))
    r = requests.post(server.url + "api/predict", data=chunks, timeout=60)
    assert r.status_code == 413
    just_right = png(Image.new("L", (50, 50), 0)) + b"\0" * 1000  # trailing bytes after IEND are ignored
    assert requests.post(server.url + "api/predict", data=just_right, timeout=30).status_code == 422


def test_unknown_routes_wrong_methods_and_foreign_host_names(server):
    assert requests.get(server.url + "api/nothing", timeout=10).status_code == 404
    assert requests.get(server.url + "../etc/passwd", timeout=10).status_code == 404
    assert requests.get(server.url + "api/predict", timeout=10).status_code == 405
    assert requests.delete(server.url + "api/samples", timeout=10).status_code == 405
    assert requests.put(server.url + "api/model", timeout=10).status_code == 405
    # a DNS-rebinding page reaches 127.0.0.1 under its own host name: refused
    assert requests.get(server.url + "healthz", headers={"Host": "evil.example"}, timeout=10).status_code == 400


# ----------------------------------------------------------------------------------- samples


def test_sample_needs_the_token_and_the_same_origin(server, workdir, dev_items):
    data = dev_items[0][0].read_bytes()
    origin = server.url.rstrip("/")
    manifest = workdir / "collected" / "manifest.csv"
    rows_before = len(manifest_rows(manifest.parent)) if manifest.exists() else 0
    refused = [
        save(server, data, token=""),
        save(server, data, token="guessed-token"),
        save(server, data, headers={"Origin": "http://evil.example"}),
        save(server, data, headers={"Origin": "null"}),
        save(server, data, headers={"Sec-Fetch-Site": "cross-site"}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert (len(manifest_rows(manifest.parent)) if manifest.exists() else 0) == rows_before
    ok = save(server, data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("label", ["", "12", "a", "-1", "3.0", "٣"])
def test_sample_label_must_be_one_digit(server, label, dev_items):
    r = save(server, dev_items[0][0].read_bytes(), label=label)
    assert r.status_code == 400 and "label" in r.json()["error"]


def test_sample_refuses_non_images_blanks_and_bad_sources(server):
    assert save(server, b"GIF89a but not really").status_code == 422
    assert save(server, png(Image.new("L", (100, 100), 255))).status_code == 422
    assert save(server, png_declaring(50_000, 50_000)).status_code == 422
    r = save(server, png(Image.new("L", (100, 100), 255)), source="../x")
    assert r.status_code == 400


def test_sample_is_saved_with_a_server_made_name_and_a_manifest_row(server, workdir, dev_items):
    folder = workdir / "collected"
    path, label = dev_items[-1]
    data = path.read_bytes()
    r = save(server, data, label=str(label), name="../../escape.png", source="upload")
    assert r.status_code == 201, r.text
    body = r.json()
    name = body["file"]
    assert re.fullmatch(rf"{label}_upload_\d{{8}}-\d{{6}}_[0-9a-f]{{6}}\.png", name)
    assert (folder / name).read_bytes() == data
    assert not (workdir / "escape.png").exists() and not list(workdir.parent.glob("escape*"))
    row = [r for r in manifest_rows(folder) if r["file"] == name]
    assert row == [{"file": name, "label": str(label), "source": "upload", "style": "own"}]
    counts = requests.get(server.url + "api/samples", timeout=10).json()["counts"]
    assert counts == body["counts"] and counts[str(label)] >= 1
    # a JPEG keeps its bytes and gets a .jpg name
    jpeg = io.BytesIO()
    Image.open(path).convert("RGB").save(jpeg, format="JPEG", quality=95)
    r = save(server, jpeg.getvalue(), label=str(label))
    assert r.status_code == 201 and r.json()["file"].endswith(".jpg")
    assert (folder / r.json()["file"]).read_bytes() == jpeg.getvalue()


def test_a_manifest_that_cannot_be_added_to_is_reported_and_nothing_is_written(tmp_path, dev_items):
    from mnist_app.errors import OutputError
    from mnist_app.serve import Collection

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "manifest.csv").write_text("name,digit\nx.png,3\n", encoding="utf-8")
    with pytest.raises(OutputError, match="needs a header with columns 'file' and 'label'"):
        Collection(folder).save(dev_items[0][0].read_bytes(), 3, "upload", "PNG")
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["manifest.csv"]
    # an existing manifest (Excel's byte-order mark, extra columns, a non-ASCII name) keeps its rows
    (folder / "manifest.csv").write_text("\ufefffile, label,note\nzéro.png,0,mine\n", encoding="utf-8")
    name = Collection(folder).save(dev_items[0][0].read_bytes(), 3, "drawn", "PNG")
    assert manifest_rows(folder) == [
        {"file": "zéro.png", "label": "0", "note": "mine", "source": "", "style": ""},
        {"file": name, "label": "3", "note": "", "source": "drawn", "style": "own"},
    ]


def test_fifty_concurrent_saves_lose_nothing(server, workdir, dev_items):
    folder = workdir / "collected"
    before = manifest_rows(folder) if (folder / "manifest.csv").exists() else []
    start = threading.Barrier(50)
    items = [dev_items[i % len(dev_items)] for i in range(50)]

    def one(item):
        path, label = item
        data = path.read_bytes()
        start.wait()
        return save(server, data, label=str(label))

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(one, items))
    assert [r.status_code for r in responses] == [201] * 50
    names = [r.json()["file"] for r in responses]
    assert len(set(names)) == 50
    after = manifest_rows(folder)
    assert len(after) == len(before) + 50
    assert {r["file"] for r in after} >= set(names)
    for name, (path, label) in zip(names, items):
        assert (folder / name).read_bytes() == path.read_bytes()
        assert [r["label"] for r in after if r["file"] == name] == [str(label)]
    assert not list(folder.glob(".*.tmp"))


def test_evaluate_scores_the_collection(server, workdir, dev_items):
    folder = workdir / "collected"
    if not (folder / "manifest.csv").exists():
        assert save(server, dev_items[0][0].read_bytes(), label=str(dev_items[0][1])).status_code == 201
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "evaluate.py"), "--images", str(folder),
         "--model", str(shipped_model()), "--json"],
        capture_output=True, text=True, timeout=120, cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == len(manifest_rows(folder)) and report["n_unreadable"] == 0
    assert report["breakdown"]["source"]


# --------------------------------------------------------------------------------- the command


def test_ctrl_c_stops_cleanly_and_a_busy_port_is_one_line(tmp_path):
    with running_server(tmp_path / "c", tmp_path) as first:
        port = first.url.rsplit(":", 1)[1].strip("/")
        busy = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "serve.py"), "--port", port, "--model", str(shipped_model())],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        assert busy.returncode == 1
        assert busy.stderr.count("\n") == 1 and f":{port}: cannot listen" in busy.stderr
    assert first.returncode == 130
    assert "Traceback" not in first.stderr and "interrupted" in first.stderr


def test_ctrl_c_before_uvicorn_takes_over_is_one_line(tmp_path):
    """Ctrl-C after the model has loaded but before uvicorn captures Ctrl-C itself (while it builds
    its event loop) escaped from asyncio as a KeyboardInterrupt: after the error line came
    "coroutine 'Server.serve' was never awaited" and an "unclosed event loop" traceback (seen in
    CI, under load). The Ctrl-C is sent from inside uvicorn's loop set-up, so the moment is exact."""
    program = (
        "import os, signal, sys\n"
        "import uvicorn\n"
        "build_loop = uvicorn.Config.get_loop_factory\n"
        "def ctrl_c_while_building(self):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return build_loop(self)\n"
        "uvicorn.Config.get_loop_factory = ctrl_c_while_building\n"
        "from mnist_app.cli.common import start\n"
        "sys.exit(start('serve', ['--port', '0', '--model', sys.argv[1]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", program, str(shipped_model())], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 130, done
    assert done.stderr.splitlines()[-1] == "serve.py: error: interrupted", done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr


@pytest.mark.parametrize("args, problem", [
    (["--port", "99999"], "argument --port: must be between 0 and 65535, got 99999"),
    (["--port", "-1"], "argument --port: must be between 0 and 65535, got -1"),
    (["--collect", "notes.txt"], "notes.txt: is a file, not a directory (--collect names the folder for your samples)"),
])
def test_a_bad_port_or_collect_folder_stops_the_server_before_it_starts(tmp_path, args, problem):
    """--port 99999 served on port 34463 (the number modulo 65536) without a word; --collect naming a
    file started the server, and only the first "this is a 7" failed."""
    (tmp_path / "notes.txt").write_text("not a folder")
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "serve.py"), *args],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode in (1, 2) and done.stdout == "", done
    assert done.stderr.splitlines()[-1] == f"serve.py: error: {problem}"
    assert "Traceback" not in done.stderr


def test_open_starts_the_users_browser_on_the_page(tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"  # $BROWSER is the command Python's webbrowser module runs
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    with running_server(tmp_path / "c", tmp_path, "--open", env={"BROWSER": str(browser)}) as srv:
        for _ in range(100):
            if opened.exists() and opened.read_text().strip():
                break
            time.sleep(0.1)
        assert opened.read_text().strip() == srv.url


def test_other_host_warns_and_help_has_examples(tmp_path):
    with running_server(tmp_path / "c", tmp_path, "--host", "localhost") as srv:
        pass
    assert "anyone who can reach this computer" in srv.stderr
    helped = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "serve.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "examples:" in helped.stdout and "--collect" in helped.stdout
    as_subcommand = subprocess.run([sys.executable, "-m", "mnist_app", "serve", "--help"], capture_output=True,
                                   text=True, timeout=60, cwd=REPO_ROOT)
    assert as_subcommand.returncode == 0 and "--collect" in as_subcommand.stdout, as_subcommand.stderr
