"""Everything issue 12 measures, on both stores: the SQLite suite against huey and the PostgreSQL suite
against pgqueuer (its fastest peer there), then the growth workloads (`growth.py`) and worker memory
(`memory.py`) on each store: growth with errands' best drain setting, memory with its defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import growth, machine, memory
from benchmarks.growth import GrowthResult
from benchmarks.memory import MemoryResult
from benchmarks.pg_db import Database, fresh_database
from benchmarks.pg_run import describe as describe_pg
from benchmarks.pg_suite import PgOptions, Schemas, rerun_on_restart
from benchmarks.pg_suite import run_all as run_pg_suite
from benchmarks.pg_systems import ErrandsPgSystem
from benchmarks.pg_workloads import ClaimCost
from benchmarks.suite import Options, Results, factory, say
from benchmarks.suite import run_all as run_sqlite_suite
from benchmarks.systems import ErrandsSystem
from benchmarks.workloads import Factory, insert_ceiling

STORES = ("sqlite", "postgres")


@dataclass(frozen=True)
class AllOptions:
    jobs: int = 10_000
    big_rows: int = 1_000_000
    memory_jobs: int = 200_000
    stores: tuple[str, ...] = STORES
    big: bool = True
    memory: bool = True
    latency_jobs: int = 300
    gap: float = 0.020
    idle_seconds: float = 5.0
    rounds: int = 3
    server: str = ""
    keep: bool = False
    base: Path = Path("/tmp")


@dataclass
class StoreResults:
    store: str  # "SQLite" or "PostgreSQL"
    peer: str  # the fastest peer on that store
    errands: Results
    peer_results: Results
    machine: str
    growth: list[GrowthResult] = field(default_factory=list)
    memory: MemoryResult | None = None
    claims: list[ClaimCost] = field(default_factory=list)
    commits: float = 0.0  # one-row INSERTs/s, one per transaction: the disk's pace in this run

    @property
    def problems(self) -> list[str]:
        found = [f"errands: {p}" for p in self.errands.problems]
        found += [f"{self.peer}: {p}" for p in self.peer_results.problems]
        found += [f"growth, {g.label}: {p}" for g in self.growth for p in g.problems]
        return found + [f"memory: {p}" for p in (self.memory.problems if self.memory else [])]


def extras(options: AllOptions, new: Factory, errands: Results, into: StoreResults) -> None:
    """The growth workloads, with errands' best drain setting, and worker memory with its defaults
    (what users run: a worker's threads are its slots, so memory follows --concurrency)."""
    best_k = errands.fastest_setting.concurrency
    if options.big:
        say(f"(e) growth: the first {options.jobs:,} jobs on an empty store, with {options.big_rows:,} queued, "
            f"with {options.big_rows:,} finished")
        into.growth = growth.run(new, ErrandsSystem.setting(best_k, burst=False), options.jobs, options.big_rows,
                                 rounds=max(1, options.rounds))
        for g in into.growth:
            shown = "; ".join(p.describe() for p in g.plans)
            say(f"  {g.label}: {g.rate:,.0f} jobs/s (loading took {g.load_seconds:.1f} s){'; ' if shown else ''}{shown}"
                f"{'  PROBLEMS: ' if g.problems else ''}{'; '.join(g.problems)}")
    if options.memory:
        say(f"(f) one worker process through {options.memory_jobs:,} jobs: memory and CPU")
        into.memory = memory.worker_memory(new, ErrandsSystem.defaults_setting(), options.memory_jobs)
        marks = ", ".join(f"{m.rss_bytes / memory.MB:.1f} MB after {m.jobs:,}" for m in into.memory.marks)
        say(f"  {into.memory.setting.label}: {marks}; steady {into.memory.steady_cpu_us_per_job:.0f} µs CPU per job")


def run_sqlite(options: AllOptions) -> StoreResults:
    say("== SQLite: errands vs huey")
    suite_options = Options(
        jobs=options.jobs, latency_jobs=options.latency_jobs, gap=options.gap,
        idle_seconds=options.idle_seconds, rounds=options.rounds, base=options.base,
    )
    load = machine.load_average()
    commits = insert_ceiling(options.base, options.jobs)
    say(f"one-row INSERT per transaction, one client: {commits:,.0f} rows/s")
    errands, huey = run_sqlite_suite(suite_options)
    out = StoreResults("SQLite", "huey", errands, huey, "", commits=commits)
    extras(options, factory(ErrandsSystem, options.base), errands, out)
    out.machine = machine.describe(options.base, load)
    return out


def run_postgres(options: AllOptions) -> StoreResults:
    say("== PostgreSQL: errands vs pgqueuer")
    big = (max(1_000, options.big_rows // 100), options.big_rows) if options.big else ()
    pg_options = PgOptions(
        jobs=options.jobs, latency_jobs=options.latency_jobs, gap=options.gap, idle_seconds=options.idle_seconds,
        rounds=options.rounds, base=options.base, systems=("errands", "pgqueuer"), wal=True, claim_sizes=big,
    )
    load = machine.load_average()
    with fresh_database(options.server, keep=options.keep) as db:
        say(f"database {db.name}")
        results = run_pg_suite(pg_options, db)
        out = StoreResults("PostgreSQL", "pgqueuer", results.systems["errands"], results.systems["pgqueuer"], "")
        out.claims, out.commits = results.claims, results.one_row_commits
        schemas = Schemas(db, options.base)
        guarded(db, schemas, lambda: extras(options, schemas.factory(ErrandsPgSystem, "errands"), out.errands, out))
        out.machine = describe_pg(db, load)
    return out


def guarded(db: Database, schemas: Schemas, step: Callable[[], None]) -> None:
    """Run `step` again if the shared server restarted meanwhile; drop its schemas once done."""

    def attempt() -> None:
        try:
            step()
        finally:
            schemas.drop_all()

    rerun_on_restart(db, schemas, attempt)


def run_all(options: AllOptions) -> list[StoreResults]:
    runners = {"sqlite": run_sqlite, "postgres": run_postgres}
    return [runners[store](options) for store in options.stores]
