"""Dashboard pages at 1,000,000 jobs: each page and its filters fetched over real HTTP (uvicorn),
on SQLite and PostgreSQL. Goal: under 200 ms each. A benchmark, not a test: it prints a table.

Run: .venv/bin/python -m benchmarks.dashboard [--store sqlite|postgres|both] [--jobs 1000000] [--runs 5]
PostgreSQL: ERRANDS_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres) gets a
fresh database `errands_dashboard_bench`, dropped at the end.

The jobs are inserted in one statement (a recursive CTE on SQLite, generate_series on
PostgreSQL): 30 days of history, mostly succeeded, some failed and cancelled, a backlog of
queued and scheduled jobs, a few running; 20 tasks in 5 queues; one claim event per job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from errands import Errands
from errands.web import create_app
from tests.helpers import free_port

DAYS = 30
JOB_COLUMNS = ("task, queue, args, state, attempt, max_attempts, run_at, created_at, started_at, finished_at, "
               "progress_current, progress_total, progress_message, result, error_type, error_message, lease_owner")

# One row per n in 1..:jobs; :now is the newest creation time. Columns by expression, shared by both dialects
# except for the integer division and modulo spelled the same way in each.
STATE = ("CASE WHEN n > :jobs - 50 THEN 'running' WHEN n > :jobs - 30000 AND n % 3 = 0 THEN 'queued' "
         "WHEN n > :jobs - 30000 AND n % 50 = 1 THEN 'scheduled' WHEN n % 20 = 7 THEN 'failed' "
         "WHEN n % 100 = 3 THEN 'cancelled' WHEN n > :jobs - 30000 AND n % 3 = 1 THEN 'queued' ELSE 'succeeded' END")


def select_rows(cast_text: str) -> str:
    created = f"(:now - {DAYS} * 86400.0 * (:jobs - n) / :jobs)"
    return (
        f"SELECT 'task' || (n % 20), 'queue' || (n % 5), "
        f"('{{\"user\":' || n || ',\"report\":\"monthly-' || (n % 97) || '\",\"note\":\"row ' || n "
        f"|| '\"}}'){cast_text}, "
        f"state, CASE WHEN state IN ('queued', 'scheduled') THEN 0 ELSE 1 END, 3, "
        f"CASE WHEN state = 'scheduled' THEN :now + 3600 ELSE {created} END, {created}, "
        f"CASE WHEN state IN ('queued', 'scheduled') THEN NULL ELSE {created} + 0.5 END, "
        f"CASE WHEN state IN ('succeeded', 'failed', 'cancelled') THEN {created} + 2.5 END, "
        f"CASE WHEN state = 'succeeded' THEN 100 WHEN state = 'running' THEN 40 END, "
        f"CASE WHEN state IN ('succeeded', 'running') THEN 100 END, "
        f"CASE WHEN state = 'running' THEN 'row 40 of 100' END, "
        f"CASE WHEN state = 'succeeded' THEN '{{\"rows\":100}}'{cast_text} END, "
        f"CASE WHEN state = 'failed' THEN 'ConnectionError' END, "
        f"CASE WHEN state = 'failed' THEN 'the mail server refused message ' || n END, "
        f"CASE WHEN state = 'running' THEN 'bench-worker' END"
    )


def fill_sqlite(path: str, jobs: int, now: float) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = off")
    rows = select_rows("").replace(":jobs", str(jobs)).replace(":now", repr(now))
    conn.execute(
        f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {jobs}), "
        f"s AS (SELECT n, {STATE.replace(':jobs', str(jobs))} AS state FROM seq) "
        f"INSERT INTO jobs ({JOB_COLUMNS}) {rows} FROM s")
    conn.execute("INSERT INTO job_events (job_id, at, kind, state, data) "
                 "SELECT id, created_at + 0.5, 'state', 'running', '{\"worker\":\"old-worker-' || (id % 3) || '\"}' "
                 "FROM jobs ORDER BY id")
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, jobs: int, now: float) -> None:
    import psycopg

    rows = select_rows("::json").replace(":jobs", str(jobs)).replace(":now", repr(now))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            f"WITH s AS (SELECT n, {STATE.replace(':jobs', str(jobs))} AS state FROM generate_series(1, {jobs}) n) "
            f"INSERT INTO errands.jobs ({JOB_COLUMNS}) {rows} FROM s")
        conn.execute("INSERT INTO errands.job_events (job_id, at, kind, state, data) "
                     "SELECT id, created_at + 0.5, 'state', 'running', "
                     "json_build_object('worker', 'old-worker-' || (id % 3)) FROM errands.jobs ORDER BY id")
        conn.execute("VACUUM ANALYZE errands.jobs")
        conn.execute("VACUUM ANALYZE errands.job_events")


def pages(jobs: int) -> list[tuple[str, str]]:
    deep = jobs // 2
    return [
        ("overview", "/dashboard/"),
        ("jobs: newest", "/dashboard/jobs"),
        ("jobs: deep page (before=N/2)", f"/dashboard/jobs?before={deep}"),
        ("jobs: state=failed", "/dashboard/jobs?state=failed"),
        ("jobs: state=running (rare)", "/dashboard/jobs?state=running"),
        ("jobs: state=queued", "/dashboard/jobs?state=queued"),
        ("jobs: task=task7", "/dashboard/jobs?task=task7"),
        ("jobs: queue=queue3", "/dashboard/jobs?queue=queue3"),
        ("jobs: created last 1h", "/dashboard/jobs?range=1h"),
        ("jobs: search common text", "/dashboard/jobs?q=monthly-42"),
        ("jobs: search error text", "/dashboard/jobs?q=refused+message+99"),
        ("jobs: search no match", "/dashboard/jobs?q=zzz-nothing"),
        ("jobs: search by id", f"/dashboard/jobs?q={deep}"),
        ("jobs: failed+task+search", "/dashboard/jobs?state=failed&task=task7&q=monthly"),
        ("job page", f"/dashboard/jobs/{deep}"),
        ("workers", "/dashboard/workers"),
    ]


def serve(app: Errands) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def measure(url: str, jobs: int, runs: int) -> list[tuple[str, float, float]]:
    out = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, path in pages(jobs):
            first = client.get(path)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - start)
            out.append((name, statistics.median(times) * 1000, max(times) * 1000))
    return out


def run_store(kind: str, jobs: int, runs: int) -> list[tuple[str, float, float]]:
    folder = tempfile.mkdtemp(prefix="errands-dash-bench-")
    admin_url = os.environ.get("ERRANDS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    if kind == "sqlite":
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
    else:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS errands_dashboard_bench")
            conn.execute("CREATE DATABASE errands_dashboard_bench")
        url = admin_url.rsplit("/", 1)[0] + "/errands_dashboard_bench"
    app = Errands(url)
    now = app.store.now()
    start = time.perf_counter()
    if kind == "sqlite":
        fill_sqlite(str(Path(folder) / "bench.db"), jobs, now)
    else:
        fill_postgres(url, jobs, now)
    print(f"{kind}: {jobs:,} jobs inserted in {time.perf_counter() - start:.1f} s", flush=True)
    server, base = serve(app)
    try:
        return measure(base, jobs, runs)
    finally:
        server.should_exit = True
        app.close()
        if kind == "postgres":
            time.sleep(0.5)
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS errands_dashboard_bench WITH (FORCE)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for kind in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
        results[kind] = run_store(kind, args.jobs, args.runs)
    kinds = list(results)
    print(f"\nDashboard pages at {args.jobs:,} jobs: median (max) of {args.runs} fetches, ms; goal < 200\n")
    print(f"| page | {' | '.join(kinds)} |")
    print(f"|---|{'---:|' * len(kinds)}")
    for i, (name, _, _) in enumerate(results[kinds[0]]):
        cells = [f"{results[k][i][1]:.0f} ({results[k][i][2]:.0f})" for k in kinds]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
