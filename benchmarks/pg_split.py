"""Where a PostgreSQL drain's CPU goes: `.venv/bin/python benchmarks/pg_split.py [--jobs 40000] [--rounds 3]`.

errands (2 × `errands worker --concurrency K --burst`) and pgqueuer (2 workers, batch 100) take turns
draining the same number of jobs. Between the start of the 20th and of the 80th percent of the jobs
(start-up and stragglers left out) it reads from `/proc` the CPU of the two worker processes and of
every `postgres` process (the server's backends, its WAL writer, ...; so run it with nothing else on
the server), and prints, per round and as medians, the pace and the CPU per job of each side. On 2
cores both drains keep the cores busy, so a system's pace follows its total CPU per job: this says
which side (worker or server) to make cheaper, and by how much against the peer.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable, as the workers see it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import procs  # noqa: E402
from benchmarks.pg_db import DEFAULT_SERVER, fresh_database  # noqa: E402
from benchmarks.pg_suite import Schemas  # noqa: E402
from benchmarks.pg_systems import ErrandsPgSystem, PgQueuerSystem  # noqa: E402
from benchmarks.suite import say  # noqa: E402
from benchmarks.systems import ErrandsSystem, Setting  # noqa: E402
from benchmarks.workloads import Factory, lines_written, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Split:
    pace: float  # jobs/s between the two readings
    worker_us: float  # worker processes' CPU per job
    server_us: float  # postgres processes' CPU per job
    busy: float  # cores kept busy by both

    @property
    def total_us(self) -> float:
        return self.worker_us + self.server_us


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and of its reaped children: none here); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def server_pids() -> list[int]:
    pids = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            if Path(comm).read_text().strip() == "postgres":
                pids.append(int(comm.split("/")[2]))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def reading(output: Path, workers: list[int]) -> tuple[float, int, float, float]:
    return (time.perf_counter(), lines_written(output), sum(cpu_seconds(p) for p in workers),
            sum(cpu_seconds(p) for p in server_pids()))


def measure(new: Factory, setting: Setting, jobs: int) -> Split:
    system = new("split")
    system.enqueue_bulk(range(jobs))
    system.close()
    workers = procs.start(setting.commands, system.env, system.folder)
    try:
        if not wait_for(lambda: lines_written(system.output) >= jobs // 5, 120):
            raise RuntimeError(f"{setting.label}: fewer than {jobs // 5} jobs ran in 120 s")
        first = reading(system.output, workers.pids)
        wait_for(lambda: lines_written(system.output) >= jobs * 4 // 5, 120)
        last = reading(system.output, workers.pids)
        workers.wait(120)
    finally:
        workers.stop()
    seconds, done = last[0] - first[0], last[1] - first[1]
    worker, server = last[2] - first[2], last[3] - first[3]
    return Split(done / seconds, 1e6 * worker / done, 1e6 * server / done, (worker + server) / seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CPU per job of workers and server in a PostgreSQL drain")
    parser.add_argument("--jobs", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64, help="errands --concurrency (default 64)")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args(argv)
    procs.compile_checkout()
    base = Path(tempfile.mkdtemp(prefix="errands-split-"))
    settings = {"errands": ErrandsSystem.setting(args.concurrency, burst=True),
                "pgqueuer": PgQueuerSystem.setting(drain=True)}
    with fresh_database(args.server) as db:
        schemas = Schemas(db, base)
        kinds = {"errands": schemas.factory(ErrandsPgSystem, "errands"),
                 "pgqueuer": schemas.factory(PgQueuerSystem, "pgqueuer")}
        splits: dict[str, list[Split]] = {name: [] for name in kinds}
        for r in range(args.rounds):
            for name in (list(kinds) if r % 2 == 0 else list(kinds)[::-1]):
                split = measure(kinds[name], settings[name], args.jobs)
                schemas.drop_all()
                splits[name].append(split)
                say(f"round {r + 1}, {name}: {split.pace:,.0f} jobs/s; worker {split.worker_us:.0f} µs/job, "
                    f"server {split.server_us:.0f} µs/job; {split.busy:.2f} cores busy")
    print(f"| {args.jobs:,} jobs, 20%–80% (median of {args.rounds}) | jobs/s | worker µs/job | server µs/job "
          "| total µs/job | cores busy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in splits.items():
        def med(key: str, runs: list[Split] = runs) -> float:
            return float(statistics.median(getattr(s, key) for s in runs))
        print(f"| {settings[name].label} | {med('pace'):,.0f} | {med('worker_us'):.0f} | {med('server_us'):.0f} "
              f"| {med('total_us'):.0f} | {med('busy'):.2f} |")


if __name__ == "__main__":
    main()
