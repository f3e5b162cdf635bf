"""A periodic task for tests that run real worker processes: each run appends its fire time to the
file named by ERRANDS_PERIODIC_OUT (the side effect counted by the exactly-once tests)."""

from __future__ import annotations

import os

from errands import Errands, JobContext


def build(url: str | None = None) -> Errands:
    app = Errands(url)

    @app.periodic(every=1, name="tick")
    def tick(ctx: JobContext) -> float:
        assert ctx.scheduled_for is not None
        slot = ctx.scheduled_for.timestamp()
        with open(os.environ["ERRANDS_PERIODIC_OUT"], "a") as f:
            f.write(f"{slot:.0f} {os.getpid()}\n")
        return slot

    return app


app = build()
