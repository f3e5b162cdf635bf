"""SIGTERM and SIGINT for a worker run from the command line: the first stops it
gracefully, the second releases running jobs at once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .loop import Worker

log = logging.getLogger("errands.worker")


@contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    received = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        # A handler runs in the main thread between two of its instructions, maybe while it holds a
        # lock that stopping takes (the worker's, an Event's): taking it here would wait for ever.
        # So the stop is handed to a thread of its own.
        nonlocal received
        received += 1
        threading.Thread(target=stop, args=(signal.Signals(signum).name, received > 1), name="errands-stop",
                         daemon=True).start()

    def stop(name: str, again: bool) -> None:
        if again:
            log.info("%s received again: releasing running jobs now", name)
        else:
            log.info(
                "%s received: finishing running jobs (grace %gs); again to release them now", name, worker.config.grace
            )
        worker.request_stop(now=again)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
