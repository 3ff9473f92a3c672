"""The recogniser in the browser: a Starlette application (run by uvicorn, see cli/serve.py).

The page (mnist_app/web/: one HTML, one JS, one CSS file, nothing fetched from other hosts) lets
the user draw or upload a digit, shows the answer, the 28x28 image the network received and what
its hidden layer did, and saves labelled examples into a collection folder that
``evaluate.py --images`` reads. The JSON API it uses is documented in docs/serve.md:

    GET  /                      the page (carries this run's token)
    POST /api/predict           body: image bytes -> digit, confidence, probabilities, input, hidden
    POST /api/samples?label=D   body: image bytes -> saved into the collection (token + same origin)
    GET  /api/samples           how many of each digit are collected
    GET  /api/model             which model answers
    GET  /healthz               liveness

The server adds no image processing of its own: uploads are decoded by preprocess.decode_image
and prepared by preprocess.prepare_all (one digit, or the digits of a number), then classified by
predict.classify_many and read as predict.classify_files reads them -- the CLI's code path.

Safety: request bodies are limited (Content-Length checked, then streamed bytes counted), the
Host header must name this server (so a rebinding DNS name cannot reach it), and saving a sample
needs the per-run token the page carries *and* a same-origin request, so another web site open in
the same browser cannot write into the user's folder. Collection writes are atomic and serialised
by a lock (threads of this process and, through a lock file, other processes on the same folder).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from mnist_app.errors import ImageError, MnistAppError, OutputError
from mnist_app.fileio import atomic_write, ensure_directory
from mnist_app.image_format import SIDE
from mnist_app.network import sigmoid
from mnist_app.number import as_number, confidence_judge
from mnist_app.predict import classify_many
from mnist_app.preprocess import IMAGE_SUFFIXES, decode_image, prepare_all

MAX_BODY_BYTES = 10 * 1024 * 1024  # a phone photo is 2-8 MB; nothing legitimate is bigger
TOP_UNITS = 8  # hidden units whose incoming weights the page draws
SAMPLE_SOURCES = ("drawn", "upload")  # the manifest's "source" column: how the image was made
SAMPLE_STYLE = "own"  # the manifest's "style" column: the user's own handwriting (as in digits-dev)
MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("file", "label", "source", "style")  # the columns evaluate.py --images reads
TOKEN_HEADER = "x-mnist-token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")

WEB_FILES = {  # URL path -> (file in mnist_app/web, media type)
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
# The page may load only its own files; images it draws itself are data:/blob: URLs.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


# ------------------------------------------------------------------------------- the answer


def hidden_activations(network, x: np.ndarray) -> np.ndarray:
    """The first hidden layer's activations sigmoid(w^0 x + b^0) for one input (book eq. 25)."""
    w, b = network.weights[0], network.biases[0]
    return sigmoid(w @ np.asarray(x, dtype=network.dtype) + b)


def _u8(values: np.ndarray) -> str:
    """Values in [0, 1] as base64 of one byte each (compact for the page's images)."""
    return base64.b64encode(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8).tobytes()).decode("ascii")


def look_inside(network, x: np.ndarray) -> dict:
    """The hidden layer for input ``x``: every activation, and the TOP_UNITS most active units
    with their incoming weights (the 28x28 pictures of the book's chapter 1)."""
    hidden = hidden_activations(network, x)
    w = network.weights[0]
    units = []
    for j in np.argsort(-hidden, kind="stable")[:TOP_UNITS]:
        scale = float(np.abs(w[j]).max()) or 1.0
        units.append({
            "unit": int(j),
            "activation": round(float(hidden[j]), 4),
            "scale": round(scale, 4),
            # incoming weights mapped to [0, 1]: 0.5 is zero, 0 is -scale, 1 is +scale
            "weights_u8": _u8(0.5 + 0.5 * w[j] / scale),
        })
    return {"size": int(hidden.size), "activations_u8": _u8(hidden), "top": units}


def _seen(pred, prepared, network) -> dict:
    """One digit's answer and what the network saw and did for it."""
    return {
        "digit": pred.digit,
        "confidence": pred.confidence,
        "probabilities": list(pred.probabilities),
        "unsure": pred.unsure,  # mnist_app.unsure's rule, as predict.py prints it
        "unsure_reason": pred.unsure_reason,
        "input": np.round(prepared.vector, 3).tolist(),
        "raw": prepared.raw,
        "hidden": look_inside(network, prepared.vector),
    }


def analyse(network, data: bytes, name: str) -> dict:
    """Decode, prepare and classify one image; the answer plus what the hidden layer did.

    An image of one digit answers with that digit's fields at the top level (``number`` and
    ``digits`` None); an image of several digits is read as a number, as predict.py reads it:
    ``number`` "2026", ``digit``/``input``/``hidden`` None, and ``digits`` with each digit's fields
    and its ``box``. ImageError (one line naming ``name``) when the bytes are not a usable image.
    """
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        prepared = prepare_all(decode_image(data, name), judge=confidence_judge(network))
    except MnistAppError:
        raise
    except (OSError, ValueError, MemoryError) as exc:  # Pillow surprises: still the image's problem
        raise ImageError(f"{name}: cannot process image ({type(exc).__name__}: {exc})") from None
    preds = classify_many(network, np.stack([d.vector for d in prepared]), [name] * len(prepared))
    if len(preds) == 1:
        answer = {"file": name, **_seen(preds[0], prepared[0], network), "number": None, "digits": None}
    else:  # as predict.classify_files does it
        number = as_number(name, preds, [d.box for d in prepared])
        answer = {
            "file": name, "digit": None, "confidence": number.confidence, "probabilities": None,
            "unsure": number.unsure, "unsure_reason": number.unsure_reason, "input": None, "raw": False,
            "hidden": None, "number": number.number,
            "digits": [{**_seen(p, d, network), "box": list(d.box)} for p, d in zip(preds, prepared)],
        }
    return {
        **answer,
        "input_side": SIDE,
        # time this request spent in the server (wall clock) and the CPU time its thread used
        "server_ms": round((time.perf_counter() - started) * 1000.0, 2),
        "cpu_ms": round((time.thread_time() - cpu_started) * 1000.0, 2),
    }


# --------------------------------------------------------------------------- the collection


def _suffix_for(format_name: str | None) -> str | None:
    """A file-name suffix for a Pillow format that the folder walk recognises, else None."""
    from PIL import Image

    for ext, fmt in Image.registered_extensions().items():
        if fmt == format_name and ext in IMAGE_SUFFIXES:
            return ".jpg" if ext == ".jpeg" else ext
    return None


class Collection:
    """A folder of labelled images with a manifest.csv (``file,label,source,style``).

    ``save`` writes the image under a name the server makes, then rewrites the manifest with one
    more row -- both atomically (temporary file + rename), one save at a time: a thread lock
    inside this process and an advisory lock file for other processes using the same folder.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            ensure_directory(self.directory)
            try:
                import fcntl
            except ImportError:  # Windows: the thread lock still covers this server
                yield
                return
            with open(self.directory / ".manifest.lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _rows(self) -> tuple[list[str], list[dict]]:
        manifest = self.directory / MANIFEST
        if not manifest.is_file():
            return list(MANIFEST_FIELDS), []
        try:
            with manifest.open(newline="", encoding="utf-8-sig") as fh:  # as evaluate reads it
                reader = csv.DictReader(fh)
                reader.fieldnames = fields = [f.strip() for f in reader.fieldnames or []]
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise OutputError(f"{manifest}: cannot read it as a UTF-8 CSV file ({exc})") from None
        if not {"file", "label"} <= set(fields):
            raise OutputError(f"{manifest}: needs a header with columns 'file' and 'label'; not adding to it")
        return fields + [f for f in MANIFEST_FIELDS if f not in fields], rows

    def counts(self) -> dict[str, int]:
        """How many images of each digit the manifest lists (all ten digits, zeros included)."""
        counts = dict.fromkeys("0123456789", 0)
        if not (self.directory / MANIFEST).is_file():
            return counts
        for row in self._rows()[1]:
            label = (row.get("label") or "").strip()
            if label in counts:
                counts[label] += 1
        return counts

    def save(self, data: bytes, label: int, source: str, format_name: str | None) -> str:
        """Store ``data`` (already checked to be an image) as a ``label`` example; its file name."""
        if label not in range(10):
            raise ValueError(f"label must be 0-9, got {label!r}")
        if source not in SAMPLE_SOURCES:
            raise ValueError(f"source must be one of {SAMPLE_SOURCES}, got {source!r}")
        suffix = _suffix_for(format_name) or ".png"
        with self._locked():
            fields, rows = self._rows()  # a manifest we cannot add to stops us before any write
            stamp = time.strftime("%Y%m%d-%H%M%S")
            while True:  # unique under the lock; random so two folders never collide when merged
                name = f"{label}_{source}_{stamp}_{secrets.token_hex(3)}{suffix}"
                if not (self.directory / name).exists():
                    break
            with atomic_write(self.directory / name, "wb") as fh:
                fh.write(data)
            rows.append({"file": name, "label": str(label), "source": source, "style": SAMPLE_STYLE})
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            with atomic_write(self.directory / MANIFEST, "wb") as fh:
                fh.write(text.getvalue().encode("utf-8"))
        return name


# ------------------------------------------------------------------------------ the web app


def web_file(name: str) -> bytes:
    """One of the page's files, shipped as package data in mnist_app/web/."""
    return (resources.files("mnist_app") / "web" / name).read_bytes()


def allowed_hosts(bind_host: str) -> list[str]:
    """Host header values accepted: the local names, plus the bound address if it is another.
    Bound to every interface (0.0.0.0 / ::), any name the machine is reached by is accepted."""
    if bind_host in ("0.0.0.0", "::", ""):
        return ["*"]
    hosts = list(LOCAL_HOSTS)
    name = f"[{bind_host}]" if ":" in bind_host else bind_host
    if name not in hosts:
        hosts.append(name)
    return hosts


def create_app(
    network,
    info,
    collection: Collection,
    *,
    token: str | None = None,
    hosts: Sequence[str] = LOCAL_HOSTS,
    max_body_bytes: int = MAX_BODY_BYTES,
):
    """The ASGI application answering with ``network``; ``info`` (mnist_app.models.ModelInfo) is what
    GET /api/model tells. ``token`` (default: a fresh random one) must accompany sample saves."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    token = token or secrets.token_urlsafe(24)
    page = web_file("index.html").replace(b"{{TOKEN}}", token.encode("ascii"))
    statics = {path: (web_file(name), media) for path, (name, media) in WEB_FILES.items()}

    def fail(status: int, message: str) -> HTTPException:
        return HTTPException(status_code=status, detail=message)

    async def read_body(request: Request) -> bytes:
        """The request body, refused with 413 as soon as it is known to exceed the limit."""
        declared = request.headers.get("content-length")
        too_big = f"request body too large (over {max_body_bytes:,} bytes)"
        if declared is not None:
            if not declared.isdigit():
                raise fail(400, f"bad Content-Length header {declared[:40]!r}")
            if int(declared) > max_body_bytes:
                raise fail(413, too_big)
        chunks, total = [], 0
        async for chunk in request.stream():  # chunked uploads declare no length: count them
            total += len(chunk)
            if total > max_body_bytes:
                raise fail(413, too_big)
            chunks.append(chunk)
        return b"".join(chunks)

    def client_name(request: Request, default: str) -> str:
        """The name used in messages: the uploaded file's name if the page sent it (shown only)."""
        name = request.query_params.get("name") or default
        return "".join(ch for ch in name if ch.isprintable())[:120] or default

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return False
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        body, media = statics[request.url.path]
        return Response(body, media_type=media, headers={"cache-control": "no-cache"})

    async def predict(request: Request) -> Response:
        data = await read_body(request)
        name = client_name(request, "upload")
        try:
            answer = await run_in_threadpool(analyse, network, data, name)
        except ImageError as exc:
            raise fail(422, str(exc)) from None
        return JSONResponse(answer)

    async def samples_counts(request: Request) -> Response:
        try:
            counts = await run_in_threadpool(collection.counts)
        except OutputError as exc:
            raise fail(500, str(exc)) from None
        return JSONResponse({"folder": str(collection.directory), "counts": counts})

    async def save_sample(request: Request) -> Response:
        if not same_origin(request):
            raise fail(403, "samples can only be saved from this server's own page (cross-origin request refused)")
        if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
            raise fail(403, "missing or wrong page token: reload the page and try again")
        label = request.query_params.get("label", "")
        if label not in tuple("0123456789"):
            raise fail(400, f"label must be one digit 0-9, got {label[:20]!r}")
        source = request.query_params.get("source", "upload")
        if source not in SAMPLE_SOURCES:
            raise fail(400, f"source must be one of {', '.join(SAMPLE_SOURCES)}, got {source[:20]!r}")
        data = await read_body(request)
        name = client_name(request, "upload")

        def check_and_save() -> tuple[str, dict]:
            image = decode_image(data, name)  # an image, not a bomb ...
            found = len(prepare_all(image))  # ... with one digit in it (a blank drawing teaches nothing)
            if found > 1:
                raise ImageError(f"{name}: holds {found} digits (a number); a label is for one digit")
            file = collection.save(data, int(label), source, image.format)
            return file, collection.counts()

        try:
            file, counts = await run_in_threadpool(check_and_save)
        except ImageError as exc:
            raise fail(422, str(exc)) from None
        except (OSError, ValueError) as exc:
            raise fail(422, f"{name}: cannot process image ({type(exc).__name__}: {exc})") from None
        except OutputError as exc:
            raise fail(500, str(exc)) from None
        return JSONResponse(
            {"file": file, "label": int(label), "folder": str(collection.directory), "counts": counts},
            status_code=201,
        )

    async def model(request: Request) -> Response:
        return JSONResponse(info.to_json())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            *(Route(path, static, methods=["GET"]) for path in statics),
            Route("/api/predict", predict, methods=["POST"]),
            Route("/api/samples", save_sample, methods=["POST"]),
            Route("/api/samples", samples_counts, methods=["GET"]),
            Route("/api/model", model, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))],
        exception_handlers={HTTPException: http_error},
    )
    return SecurityHeaders(app)


class SecurityHeaders:
    """ASGI wrapper adding SECURITY_HEADERS to every HTTP response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
