"""The three PostgreSQL systems behind the `System` interface of `systems.py`: errands, pgqueuer, procrastinate.

Each instance gets a schema of its own in the run's database, so every workload starts on
empty tables. `close()` only lets go of the producer's connections (a drain closes the
producer before its workers start, then checks the store); the suite drops the schemas.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import procrastinate
import psycopg
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment, QueryQueueBuilder
from pgqueuer.db import AsyncpgDriver
from pgqueuer.domain.settings import DBSettings
from pgqueuer.queries import Queries
from psycopg import sql

from benchmarks import pgqueuer_app, procrastinate_app
from benchmarks.pg_db import Database
from benchmarks.procs import ROOT
from benchmarks.systems import BIN, ErrandsSystem, Setting, System
from benchmarks.tasks import TASK_NAME, make_app

PGQUEUER_BATCH = 100  # twice pgqueuer's default of 10: its best setting here (see the issue)


class ErrandsPgSystem(ErrandsSystem):
    """errands on PostgreSQL: the SQLite system's producer, check and worker command lines, another URL."""

    name = "errands"

    def __init__(self, folder: Any, db: Database, schema: str) -> None:
        System.__init__(self, folder)  # ErrandsSystem's own __init__ would open a SQLite file
        self.schema = schema
        self.url = f"{db.url}?schema={schema}"
        self.app = make_app(self.url)
        self.task = self.app.get_task(TASK_NAME)
        self.app.stats()  # opens and migrates the store before anything is timed


class PgQueuerSystem(System):
    """pgqueuer with asyncpg: one connection for the producer, driven by an event loop of its own."""

    name = "pgqueuer"
    bulk_method = "`Queries.enqueue` with lists (one statement)"

    def __init__(self, folder: Any, db: Database, schema: str) -> None:
        super().__init__(folder)
        self.db, self.schema = db, schema
        settings = DBSettings(db_schema=schema)
        self._qbe, self._qbq = QueryBuilderEnvironment(settings), QueryQueueBuilder(settings)
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection | None = None
        self._queries: Queries | None = None
        self._run(self.queries().install())

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, pgqueuer_app.DSN_ENV: self.db.url, "PGQUEUER_SCHEMA": self.schema, **_pythonpath()}

    def _run(self, coroutine: Any) -> Any:
        return self._loop.run_until_complete(coroutine)

    def queries(self) -> Queries:
        """The producer's `Queries`, connecting on first use (again after `close()`)."""
        if self._queries is None:
            self._conn = self._run(asyncpg.connect(self.db.url))
            self._queries = Queries(AsyncpgDriver(self._conn), qbe=self._qbe, qbq=self._qbq)
        return self._queries

    def enqueue_one(self, n: int, sent: float) -> None:
        self._run(self.queries().enqueue(pgqueuer_app.ENTRYPOINT, pgqueuer_app.payload(n, sent)))

    def enqueue_bulk(self, ns: Sequence[int]) -> None:
        count = len(ns)
        payloads: list[bytes | None] = [pgqueuer_app.payload(n, 0.0) for n in ns]
        self._run(self.queries().enqueue([pgqueuer_app.ENTRYPOINT] * count, payloads, [0] * count))

    def check_drained(self, n: int) -> list[str]:
        left = self.db.scalar(sql.SQL("SELECT count(*) FROM {}.pgqueuer").format(sql.Identifier(self.schema)))
        done = self.db.scalar(
            sql.SQL("SELECT count(*) FROM {}.pgqueuer_log WHERE status = 'successful'").format(
                sql.Identifier(self.schema)
            )
        )
        return [] if left == 0 and done == n else [f"{left} jobs left in the queue, {done} logged successful"]

    def close(self) -> None:
        if self._conn is not None:
            self._run(self._conn.close())
        self._conn, self._queries = None, None

    @staticmethod
    def setting(*, drain: bool, batch_size: int = PGQUEUER_BATCH) -> Setting:
        options = ("--batch-size", str(batch_size), "--mode", "drain" if drain else "continuous")
        command = (sys.executable, "-m", "benchmarks.pgqueuer_app", *options)
        label = f"2 × `python -m benchmarks.pgqueuer_app {' '.join(options)}` (as `pgq run`)"
        return Setting(label, (command, command), "pgqueuer", batch_size, exits_when_done=drain)


class ProcrastinateSystem(System):
    """procrastinate: the producer defers through its synchronous psycopg connector."""

    name = "procrastinate"
    bulk_method = "`task.batch_defer` (one statement)"

    def __init__(self, folder: Any, db: Database, schema: str) -> None:
        super().__init__(folder)
        self.db, self.schema = db, schema
        db.create_schema(schema)
        self.dsn = f"{db.url}?options=-csearch_path%3D{schema}"
        self.app: procrastinate.App | None = None
        self.open().schema_manager.apply_schema()

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, procrastinate_app.DSN_ENV: self.dsn, **_pythonpath()}

    def open(self) -> procrastinate.App:
        if self.app is None:
            self.app = procrastinate_app.make_app(self.dsn)
            self.app.open()
        return self.app

    def _task(self) -> Any:
        return self.open().tasks[procrastinate_app.TASK_NAME]

    def enqueue_one(self, n: int, sent: float) -> None:
        self._task().defer(n=n, sent=sent)

    def enqueue_bulk(self, ns: Sequence[int]) -> None:
        self._task().batch_defer(*({"n": n, "sent": 0.0} for n in ns))

    def check_drained(self, n: int) -> list[str]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            counts: dict[str, int] = dict(
                conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1").fetchall()
            )
        return [] if counts == {"succeeded": n} else [f"store holds {counts}, expected {n} succeeded"]

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        self.app = None

    @staticmethod
    def setting(concurrency: int, *, drain: bool) -> Setting:
        options = ("--concurrency", str(concurrency)) + ("--one-shot",) * drain
        command = (str(BIN / "procrastinate"), "--app", "benchmarks.procrastinate_app.app", "worker", *options)
        label = f"2 × `procrastinate worker {' '.join(options)}`"
        return Setting(label, (command, command), "procrastinate", concurrency, exits_when_done=drain)


def _pythonpath() -> dict[str, str]:
    """Console scripts do not put the working directory on sys.path; the workers import `benchmarks`."""
    return {"PYTHONPATH": str(ROOT)}
