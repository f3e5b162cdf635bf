"""The huey side: a `SqliteHuey` running the same job body as errands.

Huey's defaults are kept: WAL journal, SQLite's default `synchronous=FULL`,
results on (a `None` result is not stored, so a job writes nothing after its body).
"""

from __future__ import annotations

from huey import SqliteHuey
from huey.api import TaskWrapper

from benchmarks.tasks import append_line

DB_ENV = "BENCH_HUEY_DB"  # where `benchmarks.huey_app` finds its database


def record(n: int, sent: float = 0.0) -> None:
    append_line(n, sent)


def make_huey(filename: str) -> tuple[SqliteHuey, TaskWrapper]:
    """A huey instance on `filename` with the benchmark task registered."""
    instance = SqliteHuey(name="bench", filename=filename)
    return instance, instance.task(name="record")(record)
