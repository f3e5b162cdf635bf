"""The PostgreSQL-only measurements: what one claim costs as finished jobs pile up (errands), and the
ceiling a one-row INSERT per transaction puts on single enqueues from one client.

The shared workloads (enqueue, drain, pick-up latency) are those of `workloads.py`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from benchmarks import rows
from benchmarks.pg_db import Database
from benchmarks.pg_systems import ErrandsPgSystem
from benchmarks.tasks import TASK_NAME


@dataclass
class ClaimCost:
    """Claims of `batch` ready jobs with `finished` succeeded jobs in the table."""

    finished: int
    batch: int
    seconds: list[float]  # one per claim
    load_seconds: float  # loading the finished rows and VACUUM ANALYZE, not part of any claim

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.seconds)

    @property
    def p90_ms(self) -> float:
        return 1000 * statistics.quantiles(self.seconds, n=10, method="inclusive")[8]


# Claimed jobs are deleted, outside the timed claim: the number of finished jobs stays where it was loaded.
_DROP_RUNNING = "DELETE FROM {jobs} WHERE state = 'running'"
WAL_SETTLE_SECONDS = 1.0  # backends report their WAL statistics when they exit or within a second


def load_finished(db: Database, schema: str, count: int) -> float:
    """Add `count` succeeded jobs with their history (`rows.py`: INSERT ... SELECT generate_series,
    then VACUUM ANALYZE, as autovacuum would have left a table that grew over time); returns seconds."""
    start = time.perf_counter()
    rows.load_pg(db.url, schema, count, rows.SUCCEEDED, first=10_000_000)
    return time.perf_counter() - start


def wal_syncs(db: Database) -> float:
    """The server's WAL fsyncs so far (`pg_stat_wal.wal_sync`, server-wide), read once the statistics of
    backends that just finished have reached it."""
    time.sleep(WAL_SETTLE_SECONDS)
    return float(db.scalar("SELECT wal_sync FROM pg_stat_wal") or 0)  # type: ignore[arg-type]


def time_claims(system: ErrandsPgSystem, batch: int, rounds: int) -> list[float]:
    """Enqueue `batch` jobs (one `enqueue_many`), time one `store.claim` of `batch` naming the task, as a
    worker does, drop them; `rounds` times."""
    store = system.app.store
    drop = sql.SQL(_DROP_RUNNING).format(jobs=sql.Identifier(system.schema, "jobs"))
    seconds = []
    with psycopg.connect(system.url.split("?")[0], autocommit=True) as conn:
        for _ in range(rounds):
            system.enqueue_bulk(range(batch))
            start = time.perf_counter()
            claimed = store.claim("bench-claimer", None, batch, (TASK_NAME,)).jobs  # workers name their tasks
            seconds.append(time.perf_counter() - start)
            if len(claimed) != batch:
                raise RuntimeError(f"claimed {len(claimed)} jobs, expected {batch}")
            conn.execute(drop)
    return seconds


def claim_costs(
    systems: list[ErrandsPgSystem], db: Database, sizes: list[int], batch: int, rounds: int
) -> list[ClaimCost]:
    """Load each system's table with its number of finished jobs, then time claims on them in turn,
    one claim each per round, so a change in the machine's load touches every size alike."""
    loads = [load_finished(db, system.schema, size) for system, size in zip(systems, sizes, strict=True)]
    for system in systems:
        time_claims(system, batch, 3)  # warm-up: connections, prepared statements, caches
    seconds: list[list[float]] = [[] for _ in systems]
    for _ in range(rounds):
        for system, timings in zip(systems, seconds, strict=True):
            timings += time_claims(system, batch, 1)
    return [ClaimCost(size, batch, timings, load) for size, timings, load in zip(sizes, seconds, loads, strict=True)]


def insert_ceiling(db: Database, jobs: int) -> float:
    """Rows/s for `jobs` one-row INSERTs, each its own (autocommit) transaction, from one client: the
    most any single enqueue that commits durably can reach here."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE one_row_commits (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)")
        try:
            start = time.perf_counter()
            for n in range(jobs):
                conn.execute("INSERT INTO one_row_commits (v) VALUES (%s)", (str(n),))
            return jobs / (time.perf_counter() - start)
        finally:
            conn.execute("DROP TABLE one_row_commits")
