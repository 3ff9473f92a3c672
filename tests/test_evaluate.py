"""scripts/evaluate.py (mnist_app/cli/evaluate.py) with a real, quickly trained model (conftest:
model_path): the report (misclassified files, unreadable counts) and hostile folders of images.

Real files and real processes: the image defects of issue 13 (D1, D2, D4, D17, D22) are each
reproduced the way a user meets them. Tests that need an ordinary user (``chmod 000``) drop
root's file powers in the child process (tests/user_process.py).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from mnist_app.cli import evaluate as evaluate_cli
from mnist_app.errors import ImageError
from mnist_app.preprocess import MAX_PIXELS, open_image
from tests.user_process import locked_folder, run_as_user

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digit_files(digit_dir) -> list[Path]:
    """conftest's 12 MNIST test digits saved as user drawings named '<label>_<i>.png'."""
    return sorted(digit_dir.glob("*.png"))


def run(script: str, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def one_error_line_per_problem(stderr: str, prog: str) -> list[str]:
    """The error lines; apart from them only the 'model:' line predict prints in text mode."""
    lines = [line for line in stderr.splitlines() if not line.startswith("model:")]
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    assert all(line.startswith(f"{prog}: error: ") for line in lines), stderr
    return lines


# ------------------------------------------------------------------------------- the report


def test_evaluate_images_from_file_names(model_path, digit_dir, capsys):
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(digit_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 12 and rep["n_unreadable"] == 0 and rep["accuracy"] >= 10 / 12
    assert np.asarray(rep["confusion"]).shape == (10, 10) and np.asarray(rep["confusion"]).sum() == 12
    assert rep["breakdown"] == {}


def test_evaluate_manifest_breakdown_and_unreadable(model_path, digit_dir, tmp_path, capsys):
    files = sorted(digit_dir.glob("*.png"))[:4]
    rows = ["file,label,source,style"]
    for i, f in enumerate(files):
        (tmp_path / f.name).write_bytes(f.read_bytes())
        rows.append(f"{f.name},{f.name[0]},{'a' if i < 2 else 'b'},own")
    (tmp_path / "junk.png").write_text("not a png")
    rows.append("junk.png,3,b,own")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    # An unreadable image counts as wrong and makes the run a failure (exit 1), report still printed.
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 5 and rep["n_unreadable"] == 1
    assert rep["breakdown"]["source"]["a"]["n"] == 2 and rep["breakdown"]["source"]["b"]["n"] == 3
    assert rep["unreadable"][0]["file"].endswith("junk.png")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "confusion matrix" in captured.out and "by source:" in captured.out
    assert "junk.png" in captured.err
    (tmp_path / "junk.png").unlink()
    (tmp_path / "manifest.csv").write_text("\n".join(rows[:-1]) + "\n")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 0


@pytest.mark.parametrize("manifest, problem", [
    (b"file,label\n\xff\xfe,3\n", "not a readable UTF-8 CSV"),
    (b"file,label\n,3\n", "line 2: no file name"),
    (b"file,label\nx.png,ten\n", "line 2: label 'ten' is not a digit"),
])
def test_evaluate_bad_manifest_is_one_line(model_path, tmp_path, capsys, manifest, problem):
    (tmp_path / "manifest.csv").write_bytes(manifest)
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert problem in err and "manifest.csv" in err and err.count("\n") == 1


def test_evaluate_mnist_test(model_path, quick_network, mnist, mnist_data_dir, capsys):
    args = ["--model", str(model_path), "--data-dir", str(mnist_data_dir), "--quiet", "--json"]
    assert evaluate_cli.main(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 10_000 and rep["unreadable"] == []
    assert rep["accuracy"] == pytest.approx(quick_network.accuracy(mnist.test_images, mnist.test_labels))


@pytest.mark.slow
def test_every_digits_dev_image_is_readable(model_path, digits_dev_dir, capsys):
    """The real, varied dev images (RGB, L, RGBA, 28x28 'own') all preprocess without error."""
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(digits_dev_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 814 and rep["n_unreadable"] == 0
    assert set(rep["breakdown"]["style"]) == {"own", "dark-on-white", "light-on-dark", "transparent"}
    assert rep["accuracy"] > 0.6  # a 2-epoch toy model; the shipped model's figure is in the README



def test_misclassified_files_are_listed_worst_first(model_path, digit_files, tmp_path, capsys):
    """Every label shifted by one: the answers are (nearly) all wrong. JSON lists every mistake
    with label, answer and confidence, most confident first; text lists the worst ten."""
    rows = ["file,label"]
    for f in digit_files:
        shutil.copy(f, tmp_path / f.name)
        rows.append(f"{f.name},{(int(f.name[0]) + 1) % 10}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    wrong = rep["misclassified"]
    assert len(wrong) == rep["n"] - rep["correct"] - rep["n_unreadable"] >= 10
    assert all(set(m) == {"file", "label", "answer", "confidence"} and m["label"] != m["answer"] for m in wrong)
    assert [m["confidence"] for m in wrong] == sorted((m["confidence"] for m in wrong), reverse=True)
    assert {Path(m["file"]).name for m in wrong} <= {f.name for f in digit_files}
    assert rep["n_unreadable"] == 0 and "errors" not in rep  # the old, misleading name is gone

    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    listed = out.split("most confident mistakes", 1)[1].splitlines()[1:]
    assert len(listed) == evaluate_cli.WORST_SHOWN and wrong[0]["file"] in listed[0]
    assert f"is {wrong[0]['label']}, answered {wrong[0]['answer']}" in listed[0]


def test_mnist_report_names_mistakes_by_index(model_path, mnist_data_dir, capsys):
    args = ["--model", str(model_path), "--data-dir", str(mnist_data_dir), "--quiet", "--json"]
    assert evaluate_cli.main(args) == 0
    rep = json.loads(capsys.readouterr().out)
    assert len(rep["misclassified"]) == rep["n"] - rep["correct"] > 0
    assert set(rep["misclassified"][0]) == {"index", "label", "answer", "confidence"}


def test_manifest_saved_by_excel_with_a_byte_order_mark(model_path, digit_files, tmp_path, capsys):
    """D17: Excel's "CSV UTF-8" starts with a BOM; the header is still 'file,label'."""
    rows = ["file,label"] + [f"{f.name},{f.name[0]}" for f in digit_files[:3]]
    for f in digit_files[:3]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "manifest.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3


# --------------------------------------------------------------------- hostile image files


def corrupt_avif(source: Path, target: Path) -> None:
    """A digit saved as AVIF with the second half of its bytes zeroed (Pillow: RuntimeError)."""
    scratch = target.with_suffix(".avif")
    Image.open(source).convert("RGB").resize((200, 200)).save(scratch)
    data = bytearray(scratch.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)
    target.write_bytes(bytes(data))
    scratch.unlink()
    with pytest.raises(RuntimeError), Image.open(target) as raw:  # the defect's precondition
        raw.load()


@pytest.mark.slow
def test_eps_and_corrupt_avif_stay_per_file_and_never_reach_ghostscript(model_path, digit_files, tmp_path):
    """D1: an EPS named .png is "not an image" (a `gs` on PATH is never run); D2: a corrupt AVIF
    named .png is one file's error. The good image is still classified, by predict and evaluate."""
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(digit_files[0], images / digit_files[0].name)
    corrupt_avif(digit_files[1], images / "3_avif.png")
    (images / "5_eps.png").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "ghostscript-ran"
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    done = run("predict.py", "--model", str(model_path), str(images), cwd=tmp_path, env=env)
    assert done.returncode == 1 and len(done.stdout.splitlines()) == 1
    errors = one_error_line_per_problem(done.stderr, "predict.py")
    assert len(errors) == 2 and "3_avif.png: corrupt image data" in errors[0]
    assert "5_eps.png: not an image" in errors[1]

    done = run("evaluate.py", "--model", str(model_path), "--images", str(images), "--json", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rep = json.loads(done.stdout)
    assert rep["n"] == 3 and rep["n_unreadable"] == 2 and rep["correct"] <= 1
    assert not marker.exists()


def test_a_folder_walk_picks_up_avif_images(model_path, digit_files, tmp_path):
    """AVIF is on the allow-list, so a folder's .avif files are classified too."""
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    Image.open(digit_files[0]).convert("RGB").save(tmp_path / digit_files[0].with_suffix(".avif").name)
    assert evaluate_cli.main(["--model", str(model_path), "--images", str(tmp_path), "--json"]) == 0


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (no pixel data to speak of)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [7_000, 10_000, 20_000])  # ours, Pillow's warning, Pillow's error
def test_bomb_message_quotes_our_pixel_limit(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(side, side))
    with pytest.raises(ImageError) as caught:
        open_image(path)
    message = str(caught.value)
    assert f"exceeds the limit of {MAX_PIXELS} (decompression bomb?)" in message
    assert "89478485" not in message and "178956970" not in message


def test_hostile_file_names_are_escaped_in_text(model_path, digit_files, tmp_path):
    """D22: a newline, a terminal escape or undecodable bytes in a name stay one escaped line."""
    images = tmp_path / "images"
    images.mkdir()
    names = [b"7_new\nline.png", b"7_\x1b[2Jclear.png", b"7_\xff.png"]
    for raw in names:
        shutil.copy(digit_files[0], os.path.join(os.fsencode(images), raw))
    (images / "3_\x1b]0;title\x07.png").write_text("not a png")
    done = run("predict.py", "--model", str(model_path), str(images), cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 3 and "\x1b" not in done.stdout and "\\n" in done.stdout
    assert len(one_error_line_per_problem(done.stderr, "predict.py")) == 1
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr and "\\x1b]0;title\\x07" in done.stderr
    done = run("predict.py", "--json", "--model", str(model_path), str(images), cwd=tmp_path)
    assert len([json.loads(line) for line in done.stdout.splitlines()]) == 4


def test_library_warnings_do_not_add_stderr_lines(model_path, tmp_path):
    """D22: a JPEG with a damaged EXIF block (Pillow warns) and a float TIFF whose values
    overflow (numpy warns): one answer or one error line each, nothing else on stderr."""
    image = Image.new("L", (80, 80), 255)
    image.paste(0, (30, 10, 50, 70))
    image.save(tmp_path / "plain.jpg")
    data = (tmp_path / "plain.jpg").read_bytes()
    exif = (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00"
            + b"\x12\x01\x03\x00\xff\xff\x00\x00\x06\x00\x00\x00" + b"\x00\x00\x00\x00")
    (tmp_path / "bad_exif.jpg").write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:])
    extreme = np.zeros((60, 60), np.float32)
    extreme[10:50, 28:32], extreme[0, 0] = 3e38, -3e38
    Image.fromarray(extreme, "F").save(tmp_path / "extreme.tiff")
    done = run("predict.py", "--model", str(model_path), "bad_exif.jpg", "extreme.tiff", cwd=tmp_path)
    answered = len(done.stdout.splitlines())
    assert answered + len(one_error_line_per_problem(done.stderr, "predict.py")) == 2 and answered >= 1


# ------------------------------------------------------------------ folders a user cannot search


def test_locked_subfolder_is_reported_not_skipped(model_path, digit_files, tmp_path):
    """D22: a subfolder the user cannot open is an error line (exit 1), and the rest is done."""
    images = tmp_path / "images"
    (images / "locked").mkdir(parents=True)
    shutil.copy(digit_files[0], images / digit_files[0].name)
    shutil.copy(digit_files[1], images / "locked" / digit_files[1].name)
    with locked_folder(images / "locked"):
        done = run_as_user(["predict.py", "--model", str(model_path), str(images)], cwd=tmp_path)
        assert done.returncode == 1 and len(done.stdout.splitlines()) == 1
        (error,) = one_error_line_per_problem(done.stderr, "predict.py")
        assert "locked: cannot open folder" in error

        done = run_as_user(["evaluate.py", "--model", str(model_path), "--images", str(images), "--json"], cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        rep = json.loads(done.stdout)
        assert rep["n"] == 1 and rep["unreadable_folders"][0]["folder"].endswith("locked")


@pytest.mark.slow
def test_paths_in_a_folder_the_user_cannot_search_are_one_line_errors(model_path, digit_files, tmp_path):
    """D4: Python 3.11's Path.is_dir()/exists() raise PermissionError there; every option that
    names a path answers with one line naming it instead."""
    locked = tmp_path / "locked"
    (locked / "sub").mkdir(parents=True)
    shutil.copy(digit_files[0], tmp_path / "ok.png")
    shutil.copy(digit_files[0], locked / "x.png")
    shutil.copy(model_path, locked / "m.npz")
    model = str(model_path)
    offline = ["--no-default-mirrors", "--quiet"]
    commands = [
        ["predict.py", "--model", model, "locked/x.png"],
        ["predict.py", "--model", model, "locked/sub"],
        ["predict.py", "--model", "locked/m.npz", "ok.png"],
        ["predict.py", "--model", model, "ok.png", "--show", "locked/why.png"],
        ["evaluate.py", "--model", model, "--images", "locked/sub"],
        ["evaluate.py", "--model", model, "--images", "locked"],
        ["evaluate.py", "--model", "locked/m.npz", "--images", str(tmp_path)],
        ["evaluate.py", "--model", model, "--data-dir", "locked/data", *offline],
        ["train.py", "--model-dir", "locked/run", "--epochs", "1", "--data-dir", "locked/data", *offline],
        ["plot.py", "locked/history.json"],
    ]
    with locked_folder(locked):
        for command in commands:
            done = run_as_user(command, cwd=tmp_path)
            assert done.returncode == 1, (command, done.stderr)
            (error,) = one_error_line_per_problem(done.stderr, command[0])
            assert "locked/" in error or error.startswith(f"{command[0]}: error: locked: "), (command, error)
