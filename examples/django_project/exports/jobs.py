"""The project's errands app (settings.ERRANDS["APP"] names it) and its tasks."""

import time

from errands import JobContext
from errands.integrations.django import DjangoErrands

jobs = DjangoErrands()  # the store and secret come from settings.ERRANDS


@jobs.task(retries=2, timeout=600)
def export_csv(ctx: JobContext, rows: int, pause: float = 0.05) -> dict[str, int]:
    done = (ctx.checkpoint or {}).get("rows", 0)  # resume after a restart
    while done < rows:
        time.sleep(pause)  # stands in for a slow query
        done += 1
        ctx.save_checkpoint({"rows": done})
        ctx.progress(done, rows, f"{done} of {rows} rows")
    ctx.save_file("export.csv", "".join(f"{i},{i * i}\n" for i in range(rows)))
    return {"rows": rows}
