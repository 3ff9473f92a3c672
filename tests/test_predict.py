"""Prediction API and scripts/predict.py, with a real (quickly trained) model (conftest: model_path)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_app.checkpoint import save_checkpoint
from mnist_app.cli import predict as predict_cli
from mnist_app.errors import CheckpointError
from mnist_app.network import Network
from mnist_app.predict import classify, classify_each, classify_files, classify_many, load_model

REPO = Path(__file__).resolve().parent.parent
JSON_KEYS = {"file", "digit", "confidence", "probabilities", "unsure", "unsure_reason", "error", "model"}


@pytest.fixture(scope="module")
def network(quick_network) -> Network:
    return quick_network


# ------------------------------------------------------------------------------------- API


def test_classify_gives_normalised_probabilities_and_top_k(network, mnist):
    pred = classify(network, mnist.test_images[0], file="x")
    p = np.asarray(pred.probabilities)
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0) and (p >= 0).all()
    assert pred.digit == int(np.argmax(network.feedforward(mnist.test_images[:1])[0]))
    assert pred.confidence == pytest.approx(p[pred.digit])
    assert [d for d, _ in pred.top(3)] == list(np.argsort(-p)[:3])
    assert pred.error is None and pred.ok


def test_classify_many_matches_network_predict(network, mnist):
    X = mnist.test_images[:200]
    preds = classify_many(network, X)
    assert [p.digit for p in preds] == network.predict(X).tolist()


def test_classify_files_keeps_order_and_isolates_bad_files(network, digit_dir, tmp_path):
    good = sorted(digit_dir.glob("*.png"))[:3]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    results = classify_files(network, [good[0], bad, good[1], tmp_path / "missing.png", good[2]])
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert str(bad) in results[1].error and "missing.png" in results[3].error
    assert results[0].input.shape == (784,)


@pytest.mark.parametrize("every", [0.0, 1e9], ids=["a-group-per-file", "one-group"])
def test_classify_each_answers_as_classify_files_however_it_groups(network, digit_dir, tmp_path, every):
    """predict prints as it reads (classify_each); grouping must not change an answer or its place."""
    good = sorted(digit_dir.glob("*.png"))[:4]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    paths = [good[0], bad, good[1], good[2], tmp_path / "missing.png", good[3]]
    expected = classify_files(network, paths)
    got = list(classify_each(network, iter(paths), every=every))
    assert [(r.file, r.digit, r.error) for r in got] == [(r.file, r.digit, r.error) for r in expected]
    assert [r.ok for r in got] == [True, False, True, True, False, True]
    for r, e in zip(got, expected):
        if r.ok:
            np.testing.assert_allclose(r.probabilities, e.probabilities, atol=1e-6)


def test_load_model_checks_shape_and_file(model_path, tmp_path):
    net, _ = load_model(model_path)
    assert net.sizes == (784, 30, 10)
    wrong = tmp_path / "wrong.npz"
    save_checkpoint(wrong, Network((784, 30, 5), rng=0), {})
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_model(wrong)
    wrong_in = tmp_path / "wrong_in.npz"
    save_checkpoint(wrong_in, Network((100, 10), rng=0), {})
    with pytest.raises(CheckpointError, match="784 inputs"):
        load_model(wrong_in)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(model_path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupt.npz"):
        load_model(corrupt)
    with pytest.raises(CheckpointError, match="nope.npz"):
        load_model(tmp_path / "nope.npz")


# -------------------------------------------------------------------------------- predict CLI


def test_cli_human_output_one_line_per_image(model_path, digit_dir, capsys):
    assert predict_cli.main(["--model", str(model_path), str(digit_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    files = sorted(digit_dir.glob("*.png"))
    assert len(lines) == len(files)
    correct = 0
    for line, f in zip(lines, files):  # sorted directory walk
        name, digit, conf, rest = line.split(None, 3)
        assert name == str(f) and conf.endswith("%")
        assert rest.startswith("top-3:") or (rest.startswith("unsure (") and ")  top-3:" in rest)
        correct += int(digit) == int(f.name[0])
    assert correct >= 10


def test_cli_json_schema_and_bad_file_among_good(model_path, digit_dir, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), "white").save(blank)
    good = sorted(digit_dir.glob("*.png"))[:2]
    code = predict_cli.main(["--json", "--model", str(model_path), str(good[0]), str(blank), str(good[1])])
    out, err = capsys.readouterr()
    assert code == 1
    objs = [json.loads(line) for line in out.splitlines()]
    assert [set(o) for o in objs] == [JSON_KEYS] * 3
    assert objs[0]["error"] is None and objs[2]["error"] is None
    assert len(objs[0]["probabilities"]) == 10 and isinstance(objs[0]["digit"], int)
    assert objs[1]["digit"] is None and "no digit found" in objs[1]["error"]
    assert err.count("\n") == 1 and "blank.png" in err and "no digit found" in err


@pytest.mark.parametrize("kind", ["missing", "corrupt", "wrong-shape"])
def test_cli_bad_model_exits_1_with_one_line(kind, digit_dir, tmp_path, model_path, capsys):
    path = tmp_path / f"{kind}.npz"
    if kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 garbage")
    elif kind == "wrong-shape":
        save_checkpoint(path, Network((784, 20, 9), rng=0), {})
    code = predict_cli.main(["--model", str(path), str(next(digit_dir.glob("*.png")))])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("predict.py: error:") and str(path) in err


def test_cli_show_writes_figure(model_path, digit_dir, tmp_path, capsys):
    out = tmp_path / "why.png"
    files = [str(p) for p in sorted(digit_dir.glob("*.png"))[:2]]
    assert predict_cli.main(["--model", str(model_path), "--show", str(out), *files]) == 0
    with Image.open(out) as im:
        assert im.size[0] > 200


@pytest.mark.slow
def test_cli_usage_errors_exit_2_and_start_is_light(model_path, digit_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = str(REPO / "scripts" / "predict.py")
    assert subprocess.run([sys.executable, script], capture_output=True, env=env).returncode == 2
    bad_top = subprocess.run([sys.executable, script, "--top", "0", "x.png"], capture_output=True, env=env)
    assert bad_top.returncode == 2
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "examples:" in helped.stdout
    probe = (
        "import sys; sys.argv = ['predict.py', '--model', sys.argv[1], sys.argv[2]]; "
        "from mnist_app.cli.predict import main; code = main(); "
        "heavy = [m for m in ('matplotlib', 'requests', 'tqdm') if m in sys.modules]; "
        "print(code, heavy)"
    )
    one = str(next(digit_dir.glob("*.png")))
    res = subprocess.run([sys.executable, "-c", probe, str(model_path), one], capture_output=True, text=True, env=env)
    assert res.stdout.strip().splitlines()[-1] == "0 []", res.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_the_answers_already_printed(digit_dir, tmp_path):
    """Ctrl-C while predict read a big folder printed no answer at all (all were printed at the
    end). Now each answer is printed as soon as it is known; Ctrl-C keeps those lines (whole JSON
    lines), then says "interrupted", exit 130, and draws no --show figure."""
    folder = tmp_path / "many"
    folder.mkdir()
    one = sorted(digit_dir.glob("*.png"))[0].read_bytes()
    for n in range(1000):  # minutes of work: it is interrupted long before the end
        (folder / f"{n:04d}.png").write_bytes(one)
    command = [sys.executable, str(REPO / "scripts" / "predict.py"), "--model", "shipped", "--json", "many",
               "--show", "why.png"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = proc.stdout.readline()  # an answer printed while the others are still being read
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    # through the same reader: communicate() reads the pipe itself, past what readline() buffered
    rest, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close(), proc.stderr.close()
    lines = (first + rest).splitlines()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1] == "predict.py: error: interrupted"
    assert 1 <= len(lines) < 1000 and all(json.loads(line)["digit"] is not None for line in lines)
    assert not (tmp_path / "why.png").exists()


# ------------------------------------------------------------------------------- --show figure


def run_predict(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "predict.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def show_errors(stderr: str) -> list[str]:
    """stderr without the 'model:' and 'saved' lines; no tracebacks."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if not line.startswith(("model:", "saved "))]


def test_show_draws_transparent_originals_on_a_checkerboard(tmp_path):
    """A white digit on a transparent background used to show blank (white on white)."""
    from PIL import ImageDraw

    from mnist_app.plot import original_for_display

    image = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(30, 20), (90, 20), (50, 100)], fill=(255, 255, 255, 255), width=10)
    image.save(tmp_path / "white.png")
    shown = original_for_display(tmp_path / "white.png")
    assert shown.shape == (120, 120, 3) and shown.dtype == np.uint8
    background = shown[100:120, 0:20].reshape(-1, 3)  # transparent corner: checkerboard greys
    assert len({tuple(p) for p in background}) == 2 and background.max() < 255
    assert tuple(shown[20, 60]) == (255, 255, 255)  # the stroke is still white, and now visible
    Image.new("RGB", (50, 40), "white").save(tmp_path / "plain.png")  # no alpha: unchanged
    assert (original_for_display(tmp_path / "plain.png") == 255).all()


def test_show_shrinks_large_originals_before_drawing(tmp_path):
    """D19: originals are drawn at a bounded size (two 40-megapixel photos took 2.6 GB;
    measured in docs/hardening.md)."""
    from mnist_app.plot import ORIGINAL_MAX_SIDE, original_for_display

    Image.new("L", (4000, 2500), 255).save(tmp_path / "big.png")
    shown = original_for_display(tmp_path / "big.png")
    assert max(shown.shape[:2]) == ORIGINAL_MAX_SIDE and shown.shape[:2] == (320, 512)


def test_show_lists_the_images_that_failed(network, digit_dir, tmp_path):
    from mnist_app.plot import plot_predictions, prediction_figure
    from mnist_app.predict import failed

    good = classify_files(network, sorted(digit_dir.glob("*.png"))[:1])
    bad = [failed("a.png", "a.png: not an image"), failed("b\nc.png", "b\nc.png: no digit found")]
    figure = prediction_figure(good, failed=bad)
    texts = "\n".join(t.get_text() for t in figure.texts)
    assert "not classified (2):" in texts and "a.png: not an image" in texts and "b\\nc.png: no digit" in texts
    # only failures: one figure that lists them
    assert plot_predictions(bad, tmp_path / "why.png") == [tmp_path / "why.png"]
    assert (tmp_path / "why.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_show_never_writes_over_an_input_or_a_stranger(model_path, digit_dir, tmp_path):
    """D6: `predict mine.png other.png --show mine.png` overwrote the user's drawing."""
    files = sorted(digit_dir.glob("*.png"))[:2]
    for f in files:
        (tmp_path / f.name).write_bytes(f.read_bytes())
    mine, other = files[0].name, files[1].name
    before = (tmp_path / mine).read_bytes()
    for args in ([mine, other, "--show", mine], [".", "--show", mine], [mine, "--show", f"./{mine}", "--overwrite"]):
        done = run_predict("--model", str(model_path), *args, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        (error,) = show_errors(done.stderr)
        assert "is one of the input images; refusing" in error
    assert (tmp_path / mine).read_bytes() == before

    (tmp_path / "notes.png").write_bytes(b"not a figure")
    done = run_predict("--model", str(model_path), mine, "--show", "notes.png", cwd=tmp_path)
    assert done.returncode == 1 and "add --overwrite" in show_errors(done.stderr)[0]
    assert (tmp_path / "notes.png").read_bytes() == b"not a figure"
    assert run_predict("--model", str(model_path), mine, "--show", "notes.png", "--overwrite", cwd=tmp_path).returncode == 0
    # a figure written by an earlier run is replaced without asking
    assert run_predict("--model", str(model_path), mine, other, "--show", "notes.png", cwd=tmp_path).returncode == 0


def test_show_is_checked_before_the_model_loads_or_any_image_is_classified(digit_dir, tmp_path, capsys):
    """`--show out.jpg` was refused only after every image had been classified and printed. Now
    a name not ending in .png is a usage error (exit 2), and a figure that could not be written
    is refused before the model loads: the --model here is not even a model."""
    one = str(sorted(digit_dir.glob("*.png"))[0])
    not_a_model = tmp_path / "junk.npz"
    not_a_model.write_bytes(b"junk")
    with pytest.raises(SystemExit) as stopped:
        predict_cli.main(["--model", str(not_a_model), "--show", str(tmp_path / "why.jpg"), one])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2 and out == ""
    assert "predict.py: error: argument --show: " in err and "why.jpg: figures are saved as PNG" in err
    (tmp_path / "notes.png").write_bytes(b"not a figure")
    for show, problem in ((tmp_path / "notes.png", "exists and is not a figure"), (one, "is one of the input images")):
        assert predict_cli.main(["--model", str(not_a_model), "--show", str(show), one]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and problem in err, err


@pytest.mark.slow
def test_show_under_a_regular_file_is_one_line_error(model_path, digit_dir, tmp_path):
    """D16: --show /path/under/a/regular/file/x.png was a FileExistsError traceback; a FIFO
    as the output is refused without being opened."""
    one = str(sorted(digit_dir.glob("*.png"))[0])
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo.png")  # must not be opened: reading it would block forever
    done = run_predict("--model", str(model_path), one, "--show", "fifo.png", cwd=tmp_path)
    assert done.returncode == 1 and "fifo.png: is not a regular file" in show_errors(done.stderr)[0]
    for target in ("file/x.png", "file/deeper/x.png"):
        done = run_predict("--model", str(model_path), one, "--show", target, cwd=tmp_path)
        assert done.returncode == 1
        (error,) = show_errors(done.stderr)
        assert error.startswith("predict.py: error:") and target in error and "is a file, not a folder" in error


def test_show_with_a_name_the_font_cannot_draw_adds_no_warnings(model_path, digit_dir, tmp_path):
    """D22: matplotlib warned "Glyph ... missing from font(s)" four times for a CJK file name."""
    (tmp_path / "数字7.png").write_bytes(sorted(digit_dir.glob("*.png"))[0].read_bytes())
    done = run_predict("--model", str(model_path), "数字7.png", "--show", "why.png", cwd=tmp_path)
    assert done.returncode == 0 and show_errors(done.stderr) == [], done.stderr
