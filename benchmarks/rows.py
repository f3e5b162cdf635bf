"""Many jobs loaded at once, as errands leaves them, for the workloads that measure cost as work grows.

One INSERT ... SELECT for the jobs (generate_series on PostgreSQL, a recursive CTE on SQLite) and one
for their history lines (a queued job has one, a succeeded job three: queued, running, succeeded),
then ANALYZE, as autovacuum (PostgreSQL) or `PRAGMA optimize` would have left a table that grew over
time. Loaded jobs are of the benchmark task; their numbers start at `first`, so they never collide
with the numbers of the jobs a workload enqueues itself (0 to jobs - 1).
"""

from __future__ import annotations

import json
import sqlite3
import time

import psycopg
from psycopg import sql

from benchmarks.pg_systems import ErrandsPgSystem
from benchmarks.systems import ErrandsSystem
from benchmarks.tasks import TASK_NAME

QUEUED, SUCCEEDED = "queued", "succeeded"
HISTORY = {QUEUED: [QUEUED], SUCCEEDED: [QUEUED, "running", SUCCEEDED]}

# Jobs created 300 s ago, 0.1 ms apart (so they come before any job a workload enqueues afterwards);
# a succeeded one started 100 s after it was created and took one second.
_PG_JOBS = """
INSERT INTO {jobs} (task, queue, priority, args, state, attempt, max_attempts, run_at, created_at,
                    started_at, finished_at, result)
SELECT %(task)s, 'default', 0, json_build_object('n', %(first)s::bigint + g, 'sent', 0), %(state)s,
       CASE WHEN %(done)s THEN 1 ELSE 0 END, 1, t - 300 + g * 1e-4, t - 300 + g * 1e-4,
       CASE WHEN %(done)s THEN t - 200 + g * 1e-4 END, CASE WHEN %(done)s THEN t - 199 + g * 1e-4 END,
       CASE WHEN %(done)s THEN 'null'::json END
FROM generate_series(1, %(count)s) AS g, (SELECT extract(epoch FROM now())::float8 AS t) AS clock
"""
_PG_EVENTS = """
INSERT INTO {events} (job_id, at, kind, state, data)
SELECT j.id, j.created_at + h.step, 'state', h.state, json_build_object('task', j.task)
FROM {jobs} AS j, json_array_elements_text(%(states)s::json) WITH ORDINALITY AS h(state, step)
WHERE j.id > %(after)s ORDER BY j.id, h.step
"""
_SQLITE_JOBS = """
WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :count)
INSERT INTO jobs (task, queue, priority, args, state, attempt, max_attempts, run_at, created_at,
                  started_at, finished_at, result)
SELECT :task, 'default', 0, json_object('n', :first + x, 'sent', 0), :state, CASE WHEN :done THEN 1 ELSE 0 END,
       1, :t - 300 + x * 1e-4, :t - 300 + x * 1e-4, CASE WHEN :done THEN :t - 200 + x * 1e-4 END,
       CASE WHEN :done THEN :t - 199 + x * 1e-4 END, CASE WHEN :done THEN 'null' END
FROM g
"""
_SQLITE_EVENTS = """
INSERT INTO job_events (job_id, at, kind, state, data)
SELECT j.id, j.created_at + h.key + 1, 'state', h.value, json_object('task', j.task)
FROM jobs AS j, json_each(:states) AS h
WHERE j.id > :after ORDER BY j.id, h.key
"""


def load(system: ErrandsSystem, count: int, state: str, first: int) -> float:
    """Add `count` jobs in `state` (queued or succeeded) with their history to the system's store,
    then ANALYZE; returns the seconds it took (never part of a measurement)."""
    start = time.perf_counter()
    if isinstance(system, ErrandsPgSystem):
        load_pg(system.url.split("?")[0], system.schema, count, state, first)
    else:
        load_sqlite(system.url.removeprefix("sqlite:///"), count, state, first)
    return time.perf_counter() - start


def load_pg(url: str, schema: str, count: int, state: str, first: int) -> None:
    jobs, events = sql.Identifier(schema, "jobs"), sql.Identifier(schema, "job_events")
    params = {"task": TASK_NAME, "state": state, "done": state == SUCCEEDED, "count": count, "first": first}
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            row = conn.execute(sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(jobs)).fetchone()
            conn.execute(sql.SQL(_PG_JOBS).format(jobs=jobs), params)
            history = {"states": json.dumps(HISTORY[state]), "after": row[0] if row else 0}
            conn.execute(sql.SQL(_PG_EVENTS).format(jobs=jobs, events=events), history)
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(jobs))
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(events))
        # The load's own WAL and dirty pages are written now, not by a checkpoint during the run.
        conn.execute("CHECKPOINT")


def load_sqlite(path: str, count: int, state: str, first: int) -> None:
    params = {"task": TASK_NAME, "state": state, "done": state == SUCCEEDED, "count": count, "first": first}
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        after = conn.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]
        conn.execute(_SQLITE_JOBS, params | {"t": time.time()})
        conn.execute(_SQLITE_EVENTS, {"states": json.dumps(HISTORY[state]), "after": after})
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # not left for the first commit of a measurement
    finally:
        conn.close()
