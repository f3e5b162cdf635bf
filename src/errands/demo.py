"""The tasks `errands demo` runs: jobs of several lengths, a resumable export, one that fails.

Also a small example of writing tasks: progress, checkpoints, files, logs.
"""

from __future__ import annotations

import time

from . import Errands, JobContext

app = Errands()


@app.task(name="demo.report")
def report(ctx: JobContext, title: str, steps: int, pause: float = 0.2) -> dict[str, object]:
    """A report built in steps, reporting progress as it goes."""
    for step in range(1, steps + 1):
        time.sleep(pause)
        ctx.progress(step, steps, f"section {step} of {steps}")
    ctx.log(f"report {title!r} ready")
    return {"title": title, "sections": steps}


@app.task(name="demo.export")
def export(ctx: JobContext, rows: int, batch: int = 100) -> dict[str, int]:
    """A resumable CSV export: saves a checkpoint after every batch of rows."""
    done = (ctx.checkpoint or {}).get("rows", 0)
    lines = ["id,square"]
    for start in range(done, rows, batch):
        end = min(rows, start + batch)
        lines.extend(f"{i},{i * i}" for i in range(start, end))
        time.sleep(0.05)
        ctx.save_checkpoint({"rows": end})
        ctx.progress(end, rows, "exporting rows")
    ctx.save_file("export.csv", "\n".join(lines) + "\n")
    return {"rows": rows}


@app.task(name="demo.flaky", retries=1, backoff=0.5)
def flaky(ctx: JobContext, service: str) -> None:
    """Always fails, to show a retry and then a recorded error with its traceback."""
    ctx.progress(0, 1, f"calling {service}")
    time.sleep(0.3)
    raise ConnectionError(f"{service} answered 503 Service Unavailable")
