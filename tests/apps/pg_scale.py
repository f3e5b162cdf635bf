"""Tasks for the PostgreSQL scale tests: each run writes a row into a table of the test's own
database (the one ERRANDS_URL names), so the test counts runs in SQL, not in files.

`RUNS_DDL` makes those tables. `record_once` keys its row by job id (UNIQUE): a second run of a
job fails loudly. `record_run` keeps one row per run, with the host that ran it.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import psycopg
from psycopg import errors as pg_errors

from errands import Errands, JobContext
from errands.stores.postgres_url import parse_url

app = Errands()

RUNS_DDL = """
CREATE TABLE public.once_runs (job_id bigint NOT NULL UNIQUE, attempt int NOT NULL, worker text NOT NULL);
CREATE TABLE public.host_runs (job_id bigint NOT NULL, attempt int NOT NULL, worker text NOT NULL);
"""
WORKER = f"{socket.gethostname()}-{os.getpid()}"
RECONNECT_FOR = 60.0  # seconds a run keeps trying to reach a restarting server

_lock = threading.Lock()  # one side-effect connection per process: 48 slots must not take 48 connections
_conn: psycopg.Connection[tuple[object, ...]] | None = None


class DoubleRun(Exception):
    """A job ran again after another run had already written its row."""


def _execute(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
    """Run one autocommit statement; a lost connection (a server restart) is reopened and the
    statement sent again, until RECONNECT_FOR has passed."""
    global _conn
    deadline = time.monotonic() + RECONNECT_FOR
    pause = 0.05
    with _lock:
        while True:
            try:
                if _conn is None or _conn.closed:
                    _conn = psycopg.connect(parse_url(os.environ["ERRANDS_URL"])[0], autocommit=True)
                cursor = _conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                if _conn is not None:
                    _conn.close()
                time.sleep(pause)
                pause = min(pause * 2, 1.0)


@app.task(name="record_once")
def record_once(ctx: JobContext, pause: float = 0.0) -> None:
    """Insert the job's row. A conflict with a row this same run wrote (its commit landed but
    the answer was lost with the connection) is fine; any other conflict is a double run."""
    time.sleep(pause)
    this_run = (ctx.job_id, ctx.attempt, WORKER)  # each claim counts an attempt
    try:
        _execute("INSERT INTO public.once_runs VALUES (%s, %s, %s)", this_run)
    except pg_errors.UniqueViolation:
        first = _execute("SELECT job_id, attempt, worker FROM public.once_runs WHERE job_id = %s", (ctx.job_id,))
        if first[0] != this_run:
            raise DoubleRun(f"job {ctx.job_id} already ran ({first[0]}); this run is {this_run}") from None


@app.task(name="record_run", lease=2, max_worker_losses=10)
def record_run(ctx: JobContext, seconds: float) -> str:
    """Work `seconds` without touching the store, then record this run and its host."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    _execute("INSERT INTO public.host_runs VALUES (%s, %s, %s)", (ctx.job_id, ctx.attempt, WORKER))
    return socket.gethostname()
