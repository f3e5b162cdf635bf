"""Tasks for tests that run real worker processes. The store comes from ERRANDS_URL."""

from __future__ import annotations

import os
import time

from errands import Errands, JobContext

app = Errands()


@app.task(name="append")
def append(ctx: JobContext, path: str, line: str) -> str:
    """The side effect counted by exactly-once tests: one line per run."""
    with open(path, "a") as f:
        f.write(f"{line}\n")
    return line


@app.task(name="add")
def add(ctx: JobContext, a: int, b: int) -> int:
    return a + b


@app.task(name="fail", retries=1, backoff=0.01)
def fail(ctx: JobContext, message: str) -> None:
    raise RuntimeError(message)


@app.task(name="count_to")
def count_to(ctx: JobContext, n: int, pause: float = 0.0) -> int:
    done = (ctx.checkpoint or {}).get("i", 0)
    for i in range(done, n):
        time.sleep(pause)
        ctx.save_checkpoint({"i": i + 1})
        ctx.progress(i + 1, n)
    return n


@app.task(name="pid")
def pid(ctx: JobContext) -> int:
    return os.getpid()
