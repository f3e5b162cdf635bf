"""SIGTERM and SIGINT for a worker run from the command line: the first stops it
gracefully, the second releases running jobs at once."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .loop import Worker

log = logging.getLogger("errands.worker")


@contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    received = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        name = signal.Signals(signum).name
        if received == 1:
            log.info(
                "%s received: finishing running jobs (grace %gs); again to release them now", name, worker.config.grace
            )
            worker.request_stop()
        else:
            log.info("%s received again: releasing running jobs now", name)
            worker.request_stop(now=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
