"""One of two apps sharing a store and a queue (tests/acceptance/test_mixed_fleet.py): it knows tasks `b`
and `both`, not `a`. The store comes from ERRANDS_URL."""

from __future__ import annotations

from errands import Errands, JobContext

app = Errands()


def record(path: str, line: str) -> str:
    """The side effect counted by the tests: one line per run, naming the app that ran it."""
    with open(path, "a") as f:
        f.write(f"{line} fleet_b\n")
    return line


@app.task(name="b")
def b(ctx: JobContext, path: str, line: str) -> str:
    return record(path, line)


@app.task(name="both")
def both(ctx: JobContext, path: str, line: str) -> str:
    return record(path, line)
