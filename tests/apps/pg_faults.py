"""Tasks for the PostgreSQL fault tests: each run appends one line to a file (the folder named
by ERRANDS_TEST_RUNS), outside the store, so a run finishes while the store is down and the
test counts the runs of every job afterwards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from errands import Errands, JobContext

app = Errands()


@app.task(name="record_in_file", lease=5)
def record_in_file(ctx: JobContext, seconds: float) -> None:
    """Work `seconds` without touching the store, then append "job attempt pid time" (one short
    write in append mode: lines of several processes never mix)."""
    time.sleep(seconds)
    line = f"{ctx.job_id} {ctx.attempt} {os.getpid()} {time.time():.3f}\n"
    with open(Path(os.environ["ERRANDS_TEST_RUNS"]) / "runs.txt", "a") as runs:
        runs.write(line)
