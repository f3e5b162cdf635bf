"""The benchmark job for both systems, and the errands app the worker CLI loads.

Every job appends one fixed-width line to the file named by `BENCH_OUTPUT`:
its number, the time enqueue was called and the time the body started. Fixed
width lets the runner count finished jobs from the file size alone.

Workers load `benchmarks.tasks:app`; its store comes from `ERRANDS_URL`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from errands import Errands

OUTPUT_ENV = "BENCH_OUTPUT"
TASK_NAME = "bench.record"
LINE_BYTES = len(f"{0:08d} {0.0:017.6f} {0.0:017.6f}\n")


def format_line(n: int, sent: float, started: float) -> str:
    return f"{n:08d} {sent:017.6f} {started:017.6f}\n"


def parse_line(line: str) -> tuple[int, float, float]:
    n, sent, started = line.split()
    return int(n), float(sent), float(started)


def append_line(n: int, sent: float) -> None:
    """The whole job body: open the output file in append mode, write one line, close."""
    started = time.time()
    with open(os.environ[OUTPUT_ENV], "a") as out:
        out.write(format_line(n, sent, started))


def make_app(url: str | None = None) -> Errands:
    """An app with the benchmark task registered; the store opens on first use."""
    app = Errands(url)

    @app.task(name=TASK_NAME)
    def record(ctx: Any, n: int, sent: float = 0.0) -> None:
        append_line(n, sent)

    return app


app = make_app()
