"""Claim throughput with and without flow control: two worker processes (concurrency 4 each) drain
N no-op jobs of a task with no limit, with a concurrency limit that never binds (10,000), and with
a rate limit that never binds (1,000,000/s), on SQLite and on PostgreSQL. What a limit costs is the
claim's extra work: reading (PostgreSQL: locking) the task's flow row, counting its running jobs,
keeping its window of start times.

Run: .venv/bin/python -m benchmarks.limits [--jobs 4000] [--store sqlite|postgres|both]
Throughput is jobs over the span from the first start to the last end (the store's clock), so
worker start-up is left out. The machine line says what else ran (load average).
"""

from __future__ import annotations

import argparse
import tempfile

from benchmarks.machine import load_average
from benchmarks.pg_db import fresh_database
from errands import Errands, Job, JobContext
from tests.helpers import spawn_worker

app = Errands()
VARIANTS = {"no limit": "free", "concurrency=10000": "capped", "rate=1000000/s": "rated"}


@app.task(name="free")
def free(ctx: JobContext) -> None:
    return None


@app.task(name="capped", concurrency=10_000)
def capped(ctx: JobContext) -> None:
    return None


@app.task(name="rated", rate="1000000/s")
def rated(ctx: JobContext) -> None:
    return None


def drain(url: str, task: str, jobs: int) -> float:
    """Jobs per second for two burst workers draining `jobs` jobs of `task` in a fresh store."""
    producer = Errands(url)
    producer.tasks.update(app.tasks)
    producer.enqueue_many(task, [{}] * jobs)
    workers = [spawn_worker("benchmarks.limits:app", url, "--burst", "--concurrency", "4") for _ in range(2)]
    for w in workers:
        if w.wait(600) != 0:
            raise SystemExit(w.output())
    done: list[Job] = []
    cursor = None
    while page := producer.list_jobs(limit=500, cursor=cursor):
        done += page
        cursor = page[-1].id
    assert len(done) == jobs and all(j.state.value == "succeeded" for j in done)
    first = min(j.started_at for j in done if j.started_at is not None)
    last = max(j.finished_at for j in done if j.finished_at is not None)
    producer.close()
    return jobs / (last - first).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(f"load average before: {load_average():.2f} (a shared machine: other work ran alongside)")
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    for store in stores:
        for label, task in VARIANTS.items():
            if store == "sqlite":
                url = f"sqlite:///{tempfile.mkdtemp(prefix='errands-limits-')}/limits.db"
                rate = drain(url, task, args.jobs)
            else:
                with fresh_database() as db:
                    rate = drain(db.url, task, args.jobs)
            print(f"{store:9} {label:18} {rate:8,.0f} jobs/s  ({args.jobs} no-op jobs, 2 workers x 4)", flush=True)
    print(f"load average after: {load_average():.2f}")


if __name__ == "__main__":
    main()
