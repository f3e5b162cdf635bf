"""The procrastinate side: the app `procrastinate --app benchmarks.procrastinate_app.app worker` loads.

Its connection string comes from `BENCH_PROCRASTINATE_DSN` (the benchmark puts
`options=-csearch_path=<schema>` in it, so each measurement has tables of its own). The task is
`async` (procrastinate runs those on its event loop; plain ones go through a thread) and calls
the same job body as errands.
"""

from __future__ import annotations

import os

import procrastinate

from benchmarks.tasks import append_line

DSN_ENV = "BENCH_PROCRASTINATE_DSN"
TASK_NAME = "record"


def make_app(dsn: str) -> procrastinate.App:
    """An app on `dsn` with the benchmark task registered; nothing connects until it is opened."""
    instance = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @instance.task(name=TASK_NAME)
    async def record(n: int, sent: float = 0.0) -> None:
        append_line(n, sent)

    return instance


app = make_app(os.environ.get(DSN_ENV, ""))
