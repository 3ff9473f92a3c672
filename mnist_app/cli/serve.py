"""``python scripts/serve.py``: draw, upload and teach digits in the browser.

Starts the web page of mnist_app.serve under uvicorn on http://127.0.0.1:8000/ and prints the URL
and the model that answers. Ctrl-C stops it (exit 130). Only this computer can reach it unless
``--host`` names another interface; then a warning says that anyone on that network can use it.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_app.cli.common import (
    EXIT_OK, bounded_int, error, exit_at_once, make_parser, nonempty_path, one_blas_thread, program_name, run,
)
from mnist_app.errors import MnistAppError
from mnist_app.interrupts import sigint_handled_by
from mnist_app.models import SPEC_HELP

PROG = "serve.py"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

EXAMPLES = """
  python scripts/serve.py                          # http://127.0.0.1:8000/ with the default model
  python scripts/serve.py --open                   # ... and open it in the web browser
  python scripts/serve.py --model personal --port 8080   # your fine-tuned model
  python scripts/serve.py --collect ~/digits       # where "this is a 7" saves images (default my_digits/)
  python scripts/serve.py --host 0.0.0.0           # reachable from a phone on the same network
  python scripts/evaluate.py --images my_digits/   # then: score the model on what you collected
"""


def build_parser():
    parser = make_parser(PROG, "Serve the digit recogniser as a web page: draw, upload, look inside, teach.", EXAMPLES)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to listen on (default {DEFAULT_HOST}: this computer only; 0.0.0.0: every network)",
    )
    parser.add_argument("--port", type=bounded_int(0, 65535),  # the system would take 99999 modulo 65536, silently
                        default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--model", metavar="SPEC", type=nonempty_path, help=SPEC_HELP)
    parser.add_argument(
        "--collect",
        metavar="DIR",
        type=nonempty_path,
        default="my_digits",
        help="folder where labelled examples and their manifest.csv are saved (default: my_digits)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the web browser")
    return parser


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, so a busy port is one clear line (and --port 0 tells its number)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, IndexError) as exc:
        raise MnistAppError(f"{host}: cannot listen on this address ({exc})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; is another server running? try --port" if port else ""
        raise MnistAppError(f"{host}:{port}: cannot listen ({exc.strerror or exc}){hint}") from None
    return sock


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    one_blas_thread()
    import uvicorn

    from mnist_app.models import announcement, load
    from mnist_app.serve import Collection, allowed_hosts, create_app

    collection = Collection(Path(args.collect).resolve())
    if collection.directory.exists() and not collection.directory.is_dir():  # found now, not at the first sample
        raise MnistAppError(f"{args.collect}: is a file, not a directory (--collect names the folder for your samples)")
    network, _meta, info = load(args.model)
    app = create_app(network, info, collection, hosts=allowed_hosts(args.host))

    sock = listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if args.host == DEFAULT_HOST else ("localhost" if host in ("0.0.0.0", "::") else host)
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    print(f"serving on {url}  (Ctrl-C stops)")
    print(announcement(info))
    print(f"samples go to: {collection.directory}")
    if args.host != DEFAULT_HOST:
        print(
            f"{program_name(PROG)}: warning: listening on {args.host}: anyone who can reach this computer on the "
            "network can use the page and add images to the collection",
            file=sys.stderr,
        )
    sys.stdout.flush()
    if args.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
    # uvicorn captures Ctrl-C itself only once its event loop runs; a KeyboardInterrupt while it builds
    # that loop escapes from asyncio with "never awaited" and "unclosed event loop" warnings. Nothing
    # is served yet then, so Ctrl-C ends the process at once. After a graceful stop uvicorn puts this
    # handler back and raises the Ctrl-C it captured again: the same line and exit code.
    with sigint_handled_by(_stop_at_once):
        uvicorn.Server(config).run(sockets=[sock])
    return EXIT_OK


def _stop_at_once(signum, frame) -> None:
    error(PROG, "interrupted")
    exit_at_once()


def main(argv: Sequence[str] | None = None) -> int:
    return run(PROG, _main, argv)
