"""Two apps sharing a store and a queue (tests/acceptance/test_mixed_fleet.py): `fleet_a` knows tasks `a` and
`both`, `fleet_b` knows `b` and `both`. The store comes from ERRANDS_URL."""

from __future__ import annotations

from errands import Errands, JobContext


def fleet_app(name: str, own_task: str) -> Errands:
    """An app that knows `own_task` and `both`; each run appends "<line> <name>" to the given file."""
    app = Errands()

    def record(ctx: JobContext, path: str, line: str) -> str:
        with open(path, "a") as f:
            f.write(f"{line} {name}\n")
        return line

    app.task(name=own_task)(record)
    app.task(name="both")(record)
    return app


fleet_a = fleet_app("fleet_a", "a")
fleet_b = fleet_app("fleet_b", "b")
