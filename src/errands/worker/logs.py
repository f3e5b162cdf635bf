"""Logging for a worker run from a command line: one line per record on standard error, written
in batches so that a busy worker's line per job costs no system call of its own.

Only the command lines install this (`errands worker`, the framework commands); a worker started
inside an application logs wherever that application's logging goes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FLUSH_AFTER = 0.1  # seconds a line may wait in the buffer; warnings and errors are written at once


class Formatter(logging.Formatter):
    """logging's default format, with the date and time of the second formatted once per second."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        if datefmt:
            return super().formatTime(record, datefmt)
        second, text = self._second
        if int(record.created) != second:  # a tuple swapped whole: safe without the handler's lock
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        return f"{text},{int(record.msecs):03d}"  # default_msec_format


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes lines in batches: a record waits at most FLUSH_AFTER (a thread
    writes what waits, then sleeps until the next record), a WARNING or worse is written at once
    with whatever waits before it, and logging's shutdown at exit writes the rest."""

    def __init__(self, stream: TextIO | None = None, flush_after: float = FLUSH_AFTER) -> None:
        super().__init__(stream or sys.stderr)
        self._waiting: list[str] = []
        self._flush_after = flush_after
        self._due = threading.Event()
        self._thread: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._waiting.append(line)  # handle() holds the handler's lock
        if record.levelno >= logging.WARNING:
            self.flush()
        elif len(self._waiting) == 1:
            if self._thread is None:
                self._thread = threading.Thread(target=self._flush_soon, name="errands-log", daemon=True)
                self._thread.start()
            self._due.set()

    def flush(self) -> None:
        self.acquire()
        try:
            text, self._waiting = "".join(self._waiting), []
            if text:
                self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # standard error closed or gone: nowhere left to report it
            pass
        finally:
            self.release()

    def _flush_soon(self) -> None:
        while True:
            self._due.wait()
            time.sleep(self._flush_after)
            self._due.clear()  # before the flush: a record after it sets it again
            self.flush()


def configure(level: str | int) -> None:
    """Log to standard error at `level`, as logging.basicConfig does (and like it, nothing changes
    when the root logger already has a handler: the application configured logging itself)."""
    if logging.root.handlers:
        return
    handler = BatchingStreamHandler()
    handler.setFormatter(Formatter())
    logging.basicConfig(level=level, handlers=[handler])
