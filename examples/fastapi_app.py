"""FastAPI with errands: a view starts a CSV export and answers at once with a follow URL; the
visitor's page follows the job live with /errands/errands.js and offers the file when it is done.
A worker runs inside the web process, started and stopped with the app (its lifespan).

    ERRANDS_SECRET=change-me uvicorn examples.fastapi_app:app     # then open http://127.0.0.1:8000/
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from errands import Errands, JobContext, WorkerConfig
from errands.integrations.starlette import mount, worker_lifespan

jobs = Errands()  # ERRANDS_URL, or sqlite:///errands.db


@jobs.task(retries=2, timeout=600)
def export_csv(ctx: JobContext, rows: int, pause: float = 0.05) -> dict[str, int]:
    done = (ctx.checkpoint or {}).get("rows", 0)  # resume after a restart
    lines = [f"{i},{i * i}\n" for i in range(done)]
    while done < rows:
        time.sleep(pause)  # stands in for a slow query
        lines.append(f"{done},{done * done}\n")
        done += 1
        ctx.save_checkpoint({"rows": done})
        ctx.progress(done, rows, f"{done} of {rows} rows")
    ctx.save_file("export.csv", "".join(lines))
    return {"rows": rows}


@asynccontextmanager
async def own_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """The app's own startup and shutdown; errands' worker runs inside it."""
    yield {"started_at": time.time()}


app = FastAPI(lifespan=worker_lifespan(jobs, WorkerConfig(concurrency=4, grace=10), lifespan=own_lifespan))
mount(app, jobs, "/errands")


@app.post("/exports")
async def start_export(rows: int = 100, pause: float = 0.05) -> dict[str, Any]:
    job = await export_csv.enqueue_async(rows=rows, pause=pause)
    return {"id": job.id, "follow": jobs.follow_url(job.id, base_url="/errands")}


@app.get("/healthz")
async def health(request: Request) -> dict[str, float]:
    return {"up_since": request.state.started_at}


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


PAGE = """<!doctype html>
<title>Export</title>
<button id="start">Export 100 rows</button>
<p id="status"></p>
<script src="/errands/errands.js"></script>
<script>
document.getElementById("start").onclick = async () => {
  const status = document.getElementById("status");
  const started = await (await fetch("/exports?rows=100", {method: "POST"})).json();
  errands.follow(started.follow, {
    onUpdate(job) { status.textContent = job.state + " " + (job.progress.message || ""); },
    onDone(job) {
      if (job.state !== "succeeded") return;
      const [path, query] = started.follow.split("?");
      status.innerHTML = `<a href="${path}/files/export.csv?${query}">Download the export</a>`;
    },
    onError(err) { status.textContent = "cannot follow the export: " + err.message; },
  });
};
</script>
"""
