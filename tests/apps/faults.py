"""Tasks for the store-fault tests: slow enough to be running when the fault starts. ERRANDS_URL names the store."""

from __future__ import annotations

import time

from errands import Errands, JobContext

app = Errands()


@app.task(name="slow_append", lease=6)
def slow_append(ctx: JobContext, path: str, line: str, seconds: float) -> str:
    """Sleeps, then leaves one line per run: the side effect exactly-once tests count."""
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"{line}\n")
    return line
