"""Tasks for the crash tests: short ones, resumable long ones, a poison one, a slow one.

Each run appends a line to a file, so a test can count runs (at-least-once) and
see which steps a resumed job redid. Short leases make rescues quick.
"""

from __future__ import annotations

import asyncio
import os
import time

from errands import Errands, JobContext

app = Errands()


def append(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(f"{line}\n")


@app.task(name="short", lease=2, max_worker_losses=100)
def short(ctx: JobContext, path: str, key: str) -> str:
    append(path, key)
    return key


@app.task(name="resumable", lease=2, max_worker_losses=100)
def resumable(ctx: JobContext, path: str, key: str, steps: int, pause: float) -> int:
    """One line per step; the checkpoint after each step means a rescue redoes at most one."""
    for step in range((ctx.checkpoint or {}).get("next", 0), steps):
        append(path, f"{key}:{step}")
        time.sleep(pause)
        ctx.save_checkpoint({"next": step + 1})
        ctx.progress(step + 1, steps)
    return steps


@app.task(name="poison", lease=1)
def poison(ctx: JobContext) -> None:
    os._exit(1)  # kills the whole worker, as a segfaulting C extension would


@app.task(name="slow_pid", lease=1, max_worker_losses=10)
def slow_pid(ctx: JobContext, seconds: float) -> int:
    """Sleeps in small steps without touching the store, then reports who ran it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


@app.task(name="async_sleep")
async def async_sleep(ctx: JobContext, seconds: float) -> None:
    await asyncio.sleep(seconds)
