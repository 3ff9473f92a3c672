"""mnist_app.download and scripts/download.py against real HTTP servers on 127.0.0.1.

Small generated IDX files are served by tests/http_fixtures.py with scripted misbehaviour
(404, wrong bytes, dropped connections, no Range support); their checksums are injected with
``download_mnist(files=...)``. Tests never use the default public mirrors.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from http_fixtures import closed_port_url, http_mirror
from user_process import run_as_user
from mnist_app.cli.download import main as download_main
from mnist_app.download import (
    DEFAULT_MIRRORS,
    MNIST_FILES,
    STATUS_DOWNLOADED,
    STATUS_PRESENT,
    LOCK_FILE,
    FileSpec,
    default_data_dir,
    download_mnist,
    fetch_files,
    resolve_mirrors,
)
from mnist_app.errors import DownloadError

REPO = Path(__file__).resolve().parent.parent
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def idx_gz(array: np.ndarray) -> bytes:
    """A gzip-compressed uint8 IDX file holding ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture(scope="module")
def payload() -> dict[str, bytes]:
    """Two small MNIST-like files (~40 kB of images, so drops happen mid-body)."""
    rng = np.random.default_rng(0)
    return {
        IMAGES: idx_gz(rng.integers(0, 256, size=(50, 28, 28))),
        LABELS: idx_gz(rng.integers(0, 10, size=50)),
    }


@pytest.fixture(scope="module")
def specs(payload) -> dict[str, FileSpec]:
    return {
        name: FileSpec(hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data))
        for name, data in payload.items()
    }


@pytest.fixture(autouse=True)
def no_env_mirror(monkeypatch):
    monkeypatch.delenv("MNIST_MIRROR", raising=False)


def fetch(data_dir, mirrors, specs, **kwargs):
    """download_mnist with test settings: only our mirrors, no backoff, short timeouts."""
    options = dict(files=specs, quiet=True, use_default_mirrors=False, use_env=False, backoff=0.0, timeout=(2, 5))
    options.update(kwargs)
    return download_mnist(data_dir, mirrors, **options)


def assert_complete(data_dir: Path, payload: dict[str, bytes]) -> None:
    for name, data in payload.items():
        assert (data_dir / name).read_bytes() == data
        assert not (data_dir / (name + ".part")).exists()


# --------------------------------------------------------------------------- configuration


def test_pinned_checksums_are_the_published_ones():
    assert MNIST_FILES["train-images-idx3-ubyte.gz"].md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert MNIST_FILES["t10k-labels-idx1-ubyte.gz"].sha256 == (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    )
    assert sorted(MNIST_FILES) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    )
    assert all(spec.size for spec in MNIST_FILES.values())


def test_pinned_checksums_match_the_real_mirror(mnist_mirror_dir):
    for name, spec in MNIST_FILES.items():
        data = (mnist_mirror_dir / name).read_bytes()
        assert (len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) == (
            spec.size, spec.md5, spec.sha256
        )


def test_mirror_order_extra_then_env_then_defaults(monkeypatch):
    monkeypatch.setenv("MNIST_MIRROR", " http://env-a/ ,, http://env-b/,http://cli/ ")
    mirrors = resolve_mirrors(["http://cli/"])
    assert mirrors == ["http://cli/", "http://env-a/", "http://env-b/", *DEFAULT_MIRRORS]
    assert resolve_mirrors(["x"], use_env=False, use_default_mirrors=False) == ["x"]


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    monkeypatch.delenv("MNIST_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "mnist_app"


def test_importing_download_does_not_import_requests_or_tqdm():
    code = "import sys, mnist_app.download, mnist_app.data; print(sorted({'requests', 'tqdm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- HTTP behaviour


def test_download_success(tmp_path, payload, specs):
    with http_mirror(payload) as mirror:
        paths = fetch(tmp_path, [mirror.url], specs)
    assert paths == {name: tmp_path / name for name in payload}
    assert_complete(tmp_path, payload)
    assert sorted(mirror.requests) == sorted((name, None) for name in payload)


def test_second_run_makes_no_request(tmp_path, payload, specs):
    with http_mirror(payload) as mirror:
        first = fetch_files(tmp_path, [mirror.url], files=specs, quiet=True, use_default_mirrors=False, use_env=False)
        n_requests = len(mirror.requests)
        second = fetch_files(tmp_path, [mirror.url], files=specs, quiet=True, use_default_mirrors=False, use_env=False)
        assert len(mirror.requests) == n_requests == len(payload)
    assert [r.status for r in first] == [STATUS_DOWNLOADED] * 2
    assert [r.status for r in second] == [STATUS_PRESENT] * 2
    assert [r.mirror for r in first] == [mirror.url] * 2
    assert [r.sha256 for r in second] == [specs[name].sha256 for name in payload]


def test_corrupt_existing_file_is_detected_and_downloaded_again(tmp_path, payload, specs):
    with http_mirror(payload) as mirror:
        fetch(tmp_path, [mirror.url], specs)
        target = tmp_path / IMAGES
        data = bytearray(target.read_bytes())
        data[100] ^= 0x01  # same size, one bit flipped
        target.write_bytes(bytes(data))
        fetch(tmp_path, [mirror.url], specs)
        assert [name for name, _ in mirror.requests].count(IMAGES) == 2
        assert [name for name, _ in mirror.requests].count(LABELS) == 1
    assert_complete(tmp_path, payload)


def test_first_mirror_404_then_second(tmp_path, payload, specs):
    with http_mirror(payload, "404") as bad, http_mirror(payload) as good:
        fetch(tmp_path, [bad.url, good.url], specs)
    assert_complete(tmp_path, payload)
    assert len(bad.requests) == len(payload)  # a 404 is not retried


def test_checksum_mismatch_then_next_mirror(tmp_path, payload, specs):
    with http_mirror(payload, "wrong") as bad, http_mirror(payload) as good:
        fetch(tmp_path, [bad.url, good.url], specs)
        assert len(bad.requests) == len(good.requests) == len(payload)
    assert_complete(tmp_path, payload)


def test_wrong_content_is_never_left_under_the_final_name(tmp_path, payload, specs):
    with http_mirror(payload, "wrong") as bad, pytest.raises(DownloadError) as info:
        fetch(tmp_path, [bad.url], specs)
    assert "mismatch" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == [LOCK_FILE]  # the lock stays (see _data_dir_lock)


def test_server_error_is_retried_then_next_mirror(tmp_path, payload, specs):
    with http_mirror(payload, "500") as flaky, http_mirror(payload) as good:
        fetch(tmp_path, [flaky.url, good.url], specs, retries=2)
    assert len(flaky.requests) == 3 * len(payload)  # 1 attempt + 2 retries per file
    assert_complete(tmp_path, payload)


def test_connection_dropped_mid_file_resumes_with_range(tmp_path, payload, specs):
    with http_mirror(payload) as mirror:
        mirror.behave(IMAGES, "drop-once")
        fetch(tmp_path, [mirror.url], specs)
    image_requests = [rng for name, rng in mirror.requests if name == IMAGES]
    assert image_requests == [None, f"bytes={len(payload[IMAGES]) // 2}-"]
    assert_complete(tmp_path, payload)


def test_connection_always_dropped_fails_over_to_next_mirror(tmp_path, payload, specs):
    with http_mirror(payload, "drop") as broken, http_mirror(payload) as good:
        fetch(tmp_path, [broken.url, good.url], specs, retries=1)
    assert len(broken.requests) == 2 * len(payload)
    # The half file left by the broken mirror is completed by the good one with a Range request.
    assert all(rng is not None and rng.startswith("bytes=") for _, rng in good.requests)
    assert_complete(tmp_path, payload)


def test_leftover_part_is_resumed_with_range(tmp_path, payload, specs):
    data = payload[IMAGES]
    (tmp_path / (IMAGES + ".part")).write_bytes(data[:1000])
    with http_mirror(payload) as mirror:
        fetch(tmp_path, [mirror.url], specs)
    assert (IMAGES, "bytes=1000-") in mirror.requests
    assert_complete(tmp_path, payload)


def test_complete_leftover_part_is_verified_without_a_request(tmp_path, payload, specs):
    (tmp_path / (IMAGES + ".part")).write_bytes(payload[IMAGES])
    with http_mirror(payload) as mirror:
        fetch(tmp_path, [mirror.url], specs)
    assert [name for name, _ in mirror.requests] == [LABELS]
    assert_complete(tmp_path, payload)


def test_leftover_part_restarts_when_server_ignores_range(tmp_path, payload, specs):
    (tmp_path / (IMAGES + ".part")).write_bytes(payload[IMAGES][:1000])
    with http_mirror(payload, "no-range") as mirror:
        fetch(tmp_path, [mirror.url], specs)
    assert [rng for name, rng in mirror.requests if name == IMAGES] == ["bytes=1000-"]  # answered 200
    assert_complete(tmp_path, payload)


def test_leftover_part_with_foreign_bytes_is_restarted(tmp_path, payload, specs):
    (tmp_path / (IMAGES + ".part")).write_bytes(b"\x00" * 1000)  # not a prefix of the real file
    with http_mirror(payload) as mirror:
        fetch(tmp_path, [mirror.url], specs)
    assert [rng for name, rng in mirror.requests if name == IMAGES] == ["bytes=1000-", None]
    assert_complete(tmp_path, payload)


def test_all_mirrors_fail_lists_every_mirror_per_file(tmp_path, payload, specs):
    missing_dir = tmp_path / "no-such-mirror"
    refused = closed_port_url()
    data_dir = tmp_path / "data"
    with http_mirror(payload, "404") as bad, pytest.raises(DownloadError) as info:
        fetch(data_dir, [bad.url, refused, str(missing_dir)], specs, retries=1)
    message = str(info.value)
    assert "\n" not in message
    summary, per_file, hint = message.split(" -- ")
    assert summary == f"could not download 2 of 2 file(s) into {data_dir}"
    assert "--mirror" in hint and "MNIST_MIRROR" in hint and "offline" not in hint
    # Both files failed alike, so they share one list of mirrors.
    assert per_file.startswith(f"{IMAGES}, {LABELS}: tried {bad.url} (HTTP 404")
    assert f"{refused} (no response: Connection refused)" in per_file
    assert f"{missing_dir} (no such file)" in per_file
    assert not any(data_dir.glob("*.gz"))


def test_cli_all_mirrors_fail_exits_1_with_a_clear_message(tmp_path, capsys):
    with http_mirror({}, "404") as bad:
        code = download_main(["--data-dir", str(tmp_path), "--mirror", bad.url, "--no-default-mirrors", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("download.py: error: could not download 4 of 4")
    assert f"{', '.join(MNIST_FILES)}: tried {bad.url} (HTTP 404" in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]


def test_unwritable_data_dir_fails_before_any_request(tmp_path, payload, specs):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with http_mirror(payload) as mirror:
        for data_dir in (blocker, blocker / "sub"):
            with pytest.raises(DownloadError, match="data directory .*a-file.* not"):
                fetch(data_dir, [mirror.url], specs)
        assert mirror.requests == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_data_dir_fails_before_any_request(tmp_path):
    data_dir = tmp_path / "ro"
    data_dir.mkdir(mode=0o500)
    try:
        with http_mirror({}) as mirror:
            result = run_as_user(["download.py", "--data-dir", str(data_dir), "--mirror", mirror.url,
                                  "--no-default-mirrors", "-q"], cwd=tmp_path)
        assert_one_line_error(result, 1, f"data directory {data_dir} is not writable (Permission denied)")
        assert mirror.requests == []
    finally:
        data_dir.chmod(0o700)


def test_directory_and_file_url_mirrors(tmp_path, payload, specs):
    source = tmp_path / "usb stick"
    source.mkdir()
    for name, data in payload.items():
        (source / name).write_bytes(data)
    fetch(tmp_path / "a", [str(source)], specs)
    assert_complete(tmp_path / "a", payload)
    fetch(tmp_path / "b", [source.as_uri()], specs)
    assert_complete(tmp_path / "b", payload)


def test_local_mirror_with_wrong_file_falls_over(tmp_path, payload, specs):
    source = tmp_path / "stale"
    source.mkdir()
    for name, data in payload.items():
        (source / name).write_bytes(data[::-1])
    with http_mirror(payload) as good:
        fetch(tmp_path / "d", [str(source), good.url], specs)
    assert_complete(tmp_path / "d", payload)


def test_env_mirror_is_used(tmp_path, payload, specs, monkeypatch):
    with http_mirror(payload) as mirror:
        monkeypatch.setenv("MNIST_MIRROR", f"{closed_port_url()},{mirror.url}")
        fetch(tmp_path, [], specs, use_env=True, retries=0)
        assert len(mirror.requests) == len(payload)
    assert_complete(tmp_path, payload)


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_downloaded_over_http(mnist_data_dir):
    for name, spec in MNIST_FILES.items():
        path = mnist_data_dir / name
        assert path.stat().st_size == spec.size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256


def test_cli_json_summary(tmp_path, mnist_http_mirror, capsys):
    argv = ["--data-dir", str(tmp_path), "--mirror", mnist_http_mirror, "--no-default-mirrors", "--json"]
    assert download_main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert download_main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["data_dir"] == str(tmp_path)
    assert [f["name"] for f in first["files"]] == list(MNIST_FILES)
    assert {f["status"] for f in first["files"]} == {"downloaded"}
    assert {f["status"] for f in second["files"]} == {"already_present"}
    for entry in second["files"]:
        assert entry["sha256"] == MNIST_FILES[entry["name"]].sha256
        assert Path(entry["path"]) == tmp_path / entry["name"]


def test_cli_help_shows_examples():
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "download.py"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "examples:" in out and "python scripts/download.py --data-dir" in out
    assert "--mirror" in out and "--json" in out and "--no-default-mirrors" in out


# --------------------------------------------------------------------------- issue 13: racing processes (D3)

RACER = """
import json, sys
from mnist_app.download import FileSpec, fetch_files
specs = {name: FileSpec(*spec) for name, spec in json.loads(sys.argv[3]).items()}
results = fetch_files(sys.argv[1], [sys.argv[2]], files=specs, use_default_mirrors=False, use_env=False,
                      backoff=0, timeout=(2, 5))
print(json.dumps([r.status for r in results]))
"""


def start_racer(data_dir: Path, url: str, specs) -> subprocess.Popen:
    as_json = json.dumps({name: [s.md5, s.sha256, s.size] for name, s in specs.items()})
    return subprocess.Popen(
        [sys.executable, "-c", RACER, str(data_dir), url, as_json],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_requests(mirror, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(mirror.requests) < count:
        assert time.monotonic() < deadline, "the downloader never reached the server"
        time.sleep(0.02)


def test_two_processes_downloading_into_one_fresh_data_dir_both_succeed(tmp_path, payload, specs):
    with http_mirror(payload, "slow") as mirror:
        mirror.go.clear()  # the first download stops short of its end until the second is seen waiting
        first = start_racer(tmp_path, mirror.url, specs)
        wait_for_requests(mirror, 1)
        second = start_racer(tmp_path, mirror.url, specs)
        # Not a fixed head start (the second process took longer than the whole download to start on
        # a busy machine): the first is held until the second says it waits for it.
        waiting = []
        reader = threading.Thread(target=lambda: waiting.append(second.stderr.readline()), daemon=True)
        reader.start()
        reader.join(60)
        mirror.go.set()
        outputs = [p.communicate(timeout=60) for p in (first, second)]
    assert waiting and "another process is downloading" in waiting[0], (waiting, outputs)
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert json.loads(outputs[0][0]) == [STATUS_DOWNLOADED] * 2
    assert json.loads(outputs[1][0]) == [STATUS_PRESENT] * 2  # found what the first one verified
    assert sorted(name for name, _ in mirror.requests) == sorted(payload)  # each file fetched once
    assert_complete(tmp_path, payload)


@pytest.mark.skipif(os.name != "posix", reason="kill -9")
def test_lock_of_a_killed_downloader_does_not_block(tmp_path, payload, specs):
    with http_mirror(payload, "trickle") as stuck, http_mirror(payload) as good:
        holder = start_racer(tmp_path, stuck.url, specs)
        wait_for_requests(stuck, 1)
        holder.kill()
        holder.communicate()
        started = time.monotonic()
        fetch(tmp_path, [good.url], specs)
        assert time.monotonic() - started < 10  # not waiting for a dead process's lock
    assert_complete(tmp_path, payload)


# --------------------------------------------------------------------------- local file errors (D9)


def run_download_script(*args: str, env: dict | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, str(REPO / "scripts" / "download.py"), *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, **(env or {})),
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_a_directory_named_like_an_mnist_file_is_a_one_line_error(tmp_path, mnist_http_mirror):
    (tmp_path / "t10k-labels-idx1-ubyte.gz").mkdir()
    result = run_download_script("--data-dir", str(tmp_path), "--mirror", mnist_http_mirror, "--no-default-mirrors", "-q")
    assert_one_line_error(result, 1, "t10k-labels-idx1-ubyte.gz: is a directory")
    assert (tmp_path / "t10k-labels-idx1-ubyte.gz").is_dir()
    assert not any(tmp_path.glob("*.part"))


def test_a_part_that_is_a_directory_is_a_one_line_error(tmp_path, payload, specs):
    (tmp_path / (LABELS + ".part")).mkdir()
    with http_mirror(payload) as mirror, pytest.raises(DownloadError, match=r"ubyte.gz.part: is not a regular file"):
        fetch(tmp_path, [mirror.url], specs)
    assert mirror.requests == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_part_that_is_a_symbolic_link_is_never_written_through(tmp_path, payload, specs):
    victim = tmp_path / "victim.txt"  # in a shared data dir, someone else's link to our file
    victim.write_text("precious")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / (IMAGES + ".part")).symlink_to(victim)
    with http_mirror(payload) as mirror, pytest.raises(DownloadError, match=r"\.part: is a symbolic link; remove it"):
        fetch(data_dir, [mirror.url], specs)
    assert victim.read_text() == "precious" and mirror.requests == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_part_we_cannot_write_is_a_one_line_error(tmp_path, mnist_http_mirror, mnist_mirror_dir):
    # As another user's .part in a shared data dir: read-only to us (tests/user_process.py makes
    # the child an ordinary user even when the tests run as root).
    name = "t10k-labels-idx1-ubyte.gz"
    for other in MNIST_FILES:
        if other != name:
            shutil.copy(mnist_mirror_dir / other, tmp_path / other)
    part = tmp_path / (name + ".part")
    part.write_bytes((mnist_mirror_dir / name).read_bytes()[:1000])
    part.chmod(0o444)
    result = run_as_user(["download.py", "--data-dir", str(tmp_path), "--mirror", mnist_http_mirror,
                          "--no-default-mirrors", "-q"], cwd=tmp_path)
    assert_one_line_error(result, 1, f"{part}: cannot write (Permission denied)", "--data-dir")


# --------------------------------------------------------------------------- wrong files are kept (D10)


def test_wrong_file_is_moved_aside_and_said_so_even_when_quiet(tmp_path, payload, specs, capsys):
    fashion = b"not MNIST: someone's Fashion-MNIST labels"
    (tmp_path / LABELS).write_bytes(fashion)
    with http_mirror(payload) as mirror:
        results = fetch_files(tmp_path, [mirror.url], files=specs, quiet=True, use_default_mirrors=False, use_env=False)
    aside = tmp_path / f"{LABELS}.bad-{hashlib.sha256(fashion).hexdigest()[:8]}"
    assert aside.read_bytes() == fashion
    assert [r.moved_aside for r in results] == [None, aside]
    assert_complete(tmp_path, payload)
    err = capsys.readouterr().err
    assert f"kept it as {aside.name}" in err and len(err.splitlines()) == 1


def test_wrong_file_is_left_untouched_when_no_mirror_can_replace_it(tmp_path, payload, specs):
    fashion = b"x" * len(payload[LABELS])  # right size, wrong bytes
    (tmp_path / LABELS).write_bytes(fashion)
    with http_mirror(payload, "404") as mirror, pytest.raises(DownloadError) as info:
        fetch(tmp_path, [mirror.url], specs)
    assert f"the wrong file(s) {tmp_path / LABELS} were left untouched" in str(info.value)
    assert (tmp_path / LABELS).read_bytes() == fashion
    assert not list(tmp_path.glob("*.bad-*"))


def test_wrong_file_with_no_mirror_at_all_is_named_in_the_error(tmp_path, payload, specs):
    """`evaluate.py --data-dir D` (its data loading is quiet) with a Fashion-MNIST file under an MNIST
    name and no mirror said only "no mirrors to download NAME from": not why a file that is there
    needs downloading, nor that it was kept."""
    fashion = b"x" * len(payload[LABELS])  # right size, wrong bytes
    (tmp_path / LABELS).write_bytes(fashion)
    with pytest.raises(DownloadError) as info:
        fetch(tmp_path, [], specs)
    message = str(info.value)
    assert f"{tmp_path / LABELS} is not the MNIST file (MD5 mismatch" in message
    assert "was left untouched" in message and "--mirror" in message and "\n" not in message
    assert (tmp_path / LABELS).read_bytes() == fashion


def test_no_mirror_at_all_names_the_folder_looked_in(tmp_path, specs):
    """`evaluate.py --data-dir D --no-default-mirrors` with a mistyped D said "no mirrors to
    download ... from" without naming D: the user could not see the files were looked for there."""
    with pytest.raises(DownloadError) as info:
        fetch(tmp_path / "typo", [], specs)
    assert f"from (not in {tmp_path / 'typo'}); " in str(info.value) and "\n" not in str(info.value)


def test_cli_json_reports_the_moved_aside_file(tmp_path, mnist_http_mirror, capsys):
    labels = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / labels).write_bytes(b"mine")
    argv = ["--data-dir", str(tmp_path), "--mirror", mnist_http_mirror, "--no-default-mirrors", "--json", "-q"]
    assert download_main(argv) == 0
    captured = capsys.readouterr()
    entry = next(f for f in json.loads(captured.out)["files"] if f["name"] == labels)
    assert Path(entry["moved_aside"]).read_bytes() == b"mine"
    assert "kept it as" in captured.err


# --------------------------------------------------------------------------- local mirrors are capped (D11)


@pytest.mark.parametrize("as_url", [False, True])
def test_oversized_local_mirror_file_is_not_copied_and_the_next_mirror_is_tried(tmp_path, payload, specs, as_url):
    huge = tmp_path / "usb"
    huge.mkdir()
    for name in payload:
        with open(huge / name, "wb") as handle:
            handle.truncate(3 << 30)  # 3 GB, sparse: costs no disk here, would fill the user's
    with http_mirror(payload) as good:
        results = fetch_files(tmp_path / "data", [huge.as_uri() if as_url else str(huge), good.url], files=specs,
                              quiet=True, use_default_mirrors=False, use_env=False)
    assert [r.mirror for r in results] == [good.url] * 2
    assert_complete(tmp_path / "data", payload)


def test_local_mirror_failure_names_the_size(tmp_path, payload, specs):
    source = tmp_path / "usb"
    source.mkdir()
    for name, data in payload.items():
        (source / name).write_bytes(data + b"extra")
    with pytest.raises(DownloadError, match=r"is [\d,]+ bytes, expected"):
        fetch(tmp_path / "data", [str(source)], specs)
    assert not any((tmp_path / "data").glob("*.part"))


# --------------------------------------------------------------------------- slow servers (D12, D22)


def test_trickling_server_is_abandoned_for_the_next_mirror(tmp_path, payload, specs):
    with http_mirror(payload, "trickle") as trickle, http_mirror(payload) as good:
        results = fetch_files(tmp_path, [trickle.url, good.url], files=specs, quiet=True, use_default_mirrors=False,
                              use_env=False, backoff=0, speed_floor=(1024, 1.0))
        assert [name for name, _ in trickle.requests] == list(payload)  # too slow is not retried
    assert [r.mirror for r in results] == [good.url] * 2
    assert_complete(tmp_path, payload)


def test_trickling_server_alone_fails_with_the_speed_in_the_message(tmp_path, payload, specs):
    pattern = r"too slow: \d+ bytes in 1 s \(under 1,024 bytes/s\)"
    with http_mirror(payload, "trickle") as trickle, pytest.raises(DownloadError, match=pattern):
        fetch(tmp_path, [trickle.url], specs, speed_floor=(1024, 1.0))


def test_server_trickling_its_headers_is_abandoned(tmp_path, payload, specs):
    with http_mirror(payload, "trickle-headers") as trickle, http_mirror(payload) as good:
        results = fetch_files(tmp_path, [trickle.url, good.url], files=specs, quiet=True, use_default_mirrors=False,
                              use_env=False, backoff=0, timeout=(0.5, 5), speed_floor=(1024, 0.5))
    assert [r.mirror for r in results] == [good.url] * 2


def test_stall_message_counts_the_bytes_that_arrived(tmp_path, payload, specs):
    with http_mirror(payload, "stall") as staller, pytest.raises(DownloadError) as info:
        fetch(tmp_path, [staller.url], specs, retries=0, timeout=(2, 0.5))
    assert "connection dropped after 100 bytes arrived (read timeout)" in str(info.value)


def test_retry_after_is_honoured_on_429(tmp_path, payload, specs):
    with http_mirror(payload) as mirror:
        mirror.behave(LABELS, "429-once")
        mirror.retry_after = "1"
        fetch(tmp_path, [mirror.url], specs, backoff=0.0)
    times = [t for (name, _), t in zip(mirror.requests, mirror.times) if name == LABELS]
    assert len(times) == 2 and times[1] - times[0] >= 0.9
    assert_complete(tmp_path, payload)


def test_a_long_retry_after_moves_on_to_the_next_mirror(tmp_path, payload, specs):
    with http_mirror(payload, "429") as busy, http_mirror(payload) as good:
        busy.retry_after = "3600"
        started = time.monotonic()
        results = fetch_files(tmp_path, [busy.url, good.url], files=specs, quiet=True, use_default_mirrors=False,
                              use_env=False, backoff=0)
        assert time.monotonic() - started < 30
    assert [name for name, _ in busy.requests] == list(payload)
    assert [r.mirror for r in results] == [good.url] * 2


def test_retry_after_as_an_http_date():
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from mnist_app.download import _retry_after

    assert _retry_after("7") == 7.0
    assert 25 < _retry_after(format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)) <= 30
    assert _retry_after("soon") is None and _retry_after(None) is None


def test_offline_without_a_mirror_says_how_to_give_one(tmp_path):
    result = run_download_script("--data-dir", str(tmp_path), "--mirror", closed_port_url(), "--no-default-mirrors", "-q")
    assert_one_line_error(result, 1, "no mirror could be reached (offline?): ", "--mirror DIR_OR_URL", "MNIST_MIRROR=")


# --------------------------------------------------------------------------- bad and secret mirror URLs (D15, D21)


@pytest.mark.parametrize("script", ["download.py", "train.py"])
def test_malformed_mirror_option_is_a_usage_error(script):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--mirror", "http://[::1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad mirror 'http://[::1': not a valid URL (Invalid IPv6 URL)" in result.stderr


def test_malformed_mirror_in_the_environment_is_a_one_line_error(tmp_path):
    result = run_download_script("--data-dir", str(tmp_path), env={"MNIST_MIRROR": "http://user:hunter2@[::1"})
    assert_one_line_error(result, 1, "$MNIST_MIRROR: bad mirror 'http://user:***@[::1'", "Invalid IPv6 URL")
    assert "hunter2" not in result.stderr


def test_password_in_a_mirror_url_is_never_printed(tmp_path, mnist_http_mirror, capsys):
    secret_url = mnist_http_mirror.replace("http://", "http://alice:hunter2@")
    refused = closed_port_url().replace("http://", "http://bob:s3cret@")
    argv = ["--data-dir", str(tmp_path), "--mirror", refused, "--mirror", secret_url, "--no-default-mirrors", "--json"]
    assert download_main(argv) == 0
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err and "s3cret" not in captured.out + captured.err
    assert {f["mirror"] for f in json.loads(captured.out)["files"]} == {secret_url.replace("hunter2", "***")}
    assert "bob:***@" in captured.err  # the refused mirror's note, redacted


def test_password_is_redacted_in_the_final_error(tmp_path, payload, specs):
    with http_mirror(payload, "404") as bad, pytest.raises(DownloadError) as info:
        fetch(tmp_path, [bad.url.replace("http://", "http://carol:pa:ss@word@")], specs)
    assert "carol:***@" in str(info.value) and "pa:ss" not in str(info.value) and "word@" not in str(info.value)
