"""mnist_app/interrupts.py: SIGINT handled one way inside a block, as before after it."""

from __future__ import annotations

import signal
import threading

from mnist_app.interrupts import sigint_handled_by


def test_the_handler_runs_inside_the_block_and_the_previous_one_is_back_after() -> None:
    seen: list[int] = []
    before = signal.getsignal(signal.SIGINT)
    with sigint_handled_by(lambda signum, frame: seen.append(signum)):
        signal.raise_signal(signal.SIGINT)
    assert seen == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_block_simply_runs() -> None:
    ran: list[bool] = []
    before = signal.getsignal(signal.SIGINT)

    def body() -> None:
        with sigint_handled_by(lambda signum, frame: None):
            ran.append(True)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=10)
    assert ran == [True] and signal.getsignal(signal.SIGINT) is before
