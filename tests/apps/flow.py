"""Tasks for the flow-control scenarios (tests/acceptance/test_flow.py): each run writes its own
start and end times to a file, under a lock, so a test measures overlap and rates from the runs
themselves, not from the store. The store comes from ERRANDS_URL."""

from __future__ import annotations

import fcntl
import time

from errands import Errands, JobContext

app = Errands()
app.queue("exports", concurrency=3)


def record(path: str, line: str) -> None:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line + "\n")


def timed(path: str, name: str, pause: float) -> None:
    record(path, f"start {time.time():.6f} {name}")
    time.sleep(pause)
    record(path, f"end {time.time():.6f} {name}")


@app.task(name="limited", concurrency=2)
def limited(ctx: JobContext, path: str, pause: float) -> None:
    timed(path, f"job-{ctx.job.id}", pause)


@app.task(name="export", queue="exports")
def export(ctx: JobContext, path: str, pause: float) -> None:
    timed(path, f"job-{ctx.job.id}", pause)


@app.task(name="rated", rate="10/s")
def rated(ctx: JobContext, path: str) -> None:
    record(path, f"start {time.time():.6f} job-{ctx.job.id}")


@app.task(name="note", queue="pausable")
def note(ctx: JobContext, path: str) -> None:
    record(path, f"start {time.time():.6f} job-{ctx.job.id}")
