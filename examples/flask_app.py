"""Flask with errands: a view starts a CSV export and answers at once with a follow URL; the
visitor's page follows the job live with /errands/errands.js. Tasks run inside the Flask app
context (they read `current_app.config`). Settings come from the Flask config, e.g. from
FLASK_-prefixed variables: FLASK_ERRANDS_URL, FLASK_SECRET_KEY (follow tokens are signed with a
key derived from it).

    uvicorn examples.flask_app:asgi                    # Flask and the errands API, one server
    flask --app examples.flask_app errands worker      # the worker, with the same config
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, request

from errands import JobContext
from errands.integrations.flask import FlaskErrands, serve_with_api

jobs = FlaskErrands()


@jobs.task(retries=2, timeout=600)
def export_csv(ctx: JobContext, rows: int, pause: float = 0.05) -> dict[str, Any]:
    separator = current_app.config["EXPORT_SEPARATOR"]  # the app context is there
    lines = []
    for i in range(rows):
        time.sleep(pause)  # stands in for a slow query
        lines.append(f"{i}{separator}{i * i}\n")
        ctx.progress(i + 1, rows, f"{i + 1} of {rows} rows")
    ctx.save_file("export.csv", "".join(lines))
    return {"rows": rows, "separator": separator}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="dev only: set FLASK_SECRET_KEY", EXPORT_SEPARATOR=",")
    app.config.from_prefixed_env()  # FLASK_ERRANDS_URL -> ERRANDS_URL, ...
    app.config.update(config or {})
    jobs.init_app(app)

    @app.post("/exports")
    def start_export() -> dict[str, Any]:
        job = export_csv.enqueue(rows=request.args.get("rows", 100, type=int),
                                 pause=request.args.get("pause", 0.05, type=float))
        return {"id": job.id, "follow": jobs.follow_url(job.id)}

    @app.get("/")
    def page() -> str:
        return PAGE

    return app


app = create_app()
asgi = serve_with_api(app)


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
