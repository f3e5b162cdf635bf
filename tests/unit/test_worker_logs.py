"""The worker commands' log handler: lines in batches, soon; warnings at once; nothing lost at exit."""

from __future__ import annotations

import io
import logging

from errands.worker.logs import FORMAT, BatchingStreamHandler, Formatter
from tests.helpers import wait_until


def record(level: int, message: str, created: float | None = None) -> logging.LogRecord:
    made = logging.LogRecord("errands.worker", level, __file__, 1, message, None, None)
    if created is not None:
        made.created, made.msecs = created, int((created - int(created)) * 1000) + 0.0
    return made


def test_info_lines_wait_a_moment_and_a_warning_writes_everything_before_it_at_once() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, flush_after=60)  # never by time in this test
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.handle(record(logging.INFO, "job 1 succeeded"))
    handler.handle(record(logging.INFO, "job 2 succeeded"))
    assert out.getvalue() == ""
    handler.handle(record(logging.WARNING, "job 3 failed"))
    assert out.getvalue() == "INFO job 1 succeeded\nINFO job 2 succeeded\nWARNING job 3 failed\n"


def test_waiting_lines_are_written_within_the_delay() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, flush_after=0.05)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for n in range(3):
        handler.handle(record(logging.INFO, f"line {n}"))
        wait_until(lambda n=n: out.getvalue().endswith(f"line {n}\n"), timeout=5, message=f"line {n}")  # type: ignore[misc]
    assert out.getvalue() == "line 0\nline 1\nline 2\n"


def test_flush_writes_what_waits_as_logging_does_at_exit() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, flush_after=60)
    handler.handle(record(logging.INFO, "last words"))
    handler.flush()  # what logging.shutdown() calls for every handler at interpreter exit
    assert out.getvalue() == "last words\n"


def test_the_formatter_writes_what_the_default_one_does() -> None:
    ours, default = Formatter(), logging.Formatter(FORMAT)
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_001.25, 1_700_003_600.001):
        made = record(logging.INFO, "job 1 succeeded", created)
        assert ours.format(made) == default.format(made)
