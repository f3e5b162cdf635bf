"""The app the SSE fan-out benchmark serves: jobs that report progress steadily."""

from __future__ import annotations

import time

from errands import Errands, JobContext

app = Errands()


@app.task(name="ticker", public=True)
def ticker(ctx: JobContext, seconds: float) -> int:
    steps = int(seconds * 100)
    for step in range(steps):
        time.sleep(0.01)
        ctx.progress(step + 1, steps)
    return steps
