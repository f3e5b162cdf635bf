"""An app for `errands serve` tests: one public task. The store comes from ERRANDS_URL."""

from __future__ import annotations

from errands import Errands, JobContext

app = Errands()


@app.task(name="greet", public=True)
def greet(ctx: JobContext, name: str) -> str:
    ctx.progress(1, 1, "greeting")
    return f"hello {name}"
