"""Ctrl-C (SIGINT) handled one way inside a block and as before after it.

Used by ``train``'s end-of-epoch writes (Ctrl-C waits until the epoch's files all describe the
same epoch) and by ``cli.serve`` while uvicorn builds its event loop (Ctrl-C ends the process at
once). What Ctrl-C does in a command otherwise is decided in one place,
``cli.common._keyboard_interrupt``. Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def sigint_handled_by(handler: Callable) -> Iterator[None]:
    """Inside the block SIGINT calls ``handler(signum, frame)``; afterwards the previous handler
    is back. Outside the main thread, where Python cannot set signal handlers, the block simply
    runs with whatever handling the process has."""
    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
