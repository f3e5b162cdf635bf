"""Runs every PostgreSQL workload on errands, pgqueuer and procrastinate, one system after another on
the same server and database, and collects the figures for `pg_report`.

The enqueue, drain and latency workloads and their progress lines are those of `workloads.py` and
`suite.py`; each system instance gets a schema of its own, dropped once its workload is done.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from benchmarks.pg_db import Database
from benchmarks.pg_systems import ErrandsPgSystem, PgQueuerSystem, ProcrastinateSystem
from benchmarks.pg_workloads import ClaimCost, claim_costs, insert_ceiling, wal_syncs
from benchmarks.suite import Options, Results, run_drains, run_enqueue, run_latency, run_round, say
from benchmarks.systems import ErrandsSystem, Setting, System
from benchmarks.workloads import Factory, fresh_folder

NAMES = ("errands", "pgqueuer", "procrastinate")
RESTART_TRIES = 3
T = TypeVar("T")


@dataclass(frozen=True)
class PgOptions(Options):
    concurrency: tuple[int, ...] = (16, 32, 64)  # errands --concurrency values tried in the drain
    procrastinate_concurrency: tuple[int, ...] = (50, 100)
    pgqueuer_batch: int = 100
    claim_sizes: tuple[int, ...] = (10_000, 1_000_000)
    claim_batch: int = 100
    claim_rounds: int = 40
    systems: tuple[str, ...] = NAMES  # which systems run (errands always)
    wal: bool = False  # count the server's WAL fsyncs around each drain (adds a second per reading)


@dataclass
class PgResults:
    systems: dict[str, Results] = field(default_factory=lambda: {name: Results() for name in NAMES})
    claims: list[ClaimCost] = field(default_factory=list)
    one_row_commits: float = 0.0  # INSERTs/s, one per transaction, one client

    @property
    def problems(self) -> list[str]:
        return [f"{name}: {p}" for name, r in self.systems.items() for p in r.problems]


class Schemas:
    """Hands out a fresh schema name per system instance and drops them all when asked."""

    def __init__(self, db: Database, base: Path) -> None:
        self.db, self.base = db, base
        self._made: list[str] = []
        self._counter = itertools.count(1)

    def factory(self, kind: Callable[[Path, Database, str], System], name: str) -> Factory:
        def new(label: str) -> System:
            schema = f"bench_{name}_{label.replace('-', '_')}_{next(self._counter)}"
            self._made.append(schema)
            return kind(fresh_folder(self.base, name, label), self.db, schema)

        return new

    def drop_all(self) -> None:
        while self._made:
            self.db.drop_schema(self._made.pop())


def drain_settings(options: PgOptions) -> dict[str, list[Setting]]:
    return {
        "errands": [ErrandsSystem.setting(k, burst=True) for k in options.concurrency],
        "pgqueuer": [PgQueuerSystem.setting(drain=True, batch_size=options.pgqueuer_batch)],
        "procrastinate": [ProcrastinateSystem.setting(k, drain=True) for k in options.procrastinate_concurrency],
    }


def latency_setting(name: str, best: Setting, options: PgOptions) -> Setting:
    """The best drain setting of a system, as a worker that waits for work."""
    if name == "errands":
        return ErrandsSystem.setting(best.concurrency, burst=False)
    if name == "pgqueuer":
        return PgQueuerSystem.setting(drain=False, batch_size=options.pgqueuer_batch)
    return ProcrastinateSystem.setting(best.concurrency, drain=False)


def rerun_on_restart(db: Database, schemas: Schemas, measure: Callable[[], T]) -> T:
    """Run one measurement; run it again when the server restarted meanwhile (other engineers' tests
    restart the shared server), whether the restart made it fail or only skewed it."""
    for _ in range(RESTART_TRIES):
        before = db.started_at()
        try:
            value = measure()
        except Exception:
            if db.started_at() == before:
                raise
        else:
            if db.started_at() == before:
                return value
        schemas.drop_all()
        say("  PostgreSQL restarted during this measurement (not by this run): measuring again")
    raise RuntimeError(f"PostgreSQL restarted during {RESTART_TRIES} tries of one measurement")


def measured(db: Database, schemas: Schemas, into: Results, step: Callable[[Results], None]) -> None:
    """Run `step` into fresh results, guarded against restarts, and add what it measured to `into`."""

    def attempt() -> Results:
        scratch = Results()
        try:
            step(scratch)
        finally:
            schemas.drop_all()
        return scratch

    got = rerun_on_restart(db, schemas, attempt)
    into.singles += got.singles
    into.bulks += got.bulks
    into.drains += got.drains
    into.latencies += got.latencies


def run_all(options: PgOptions, db: Database) -> PgResults:
    results = PgResults(systems={name: Results() for name in options.systems})
    schemas = Schemas(db, options.base)
    kinds = {"errands": ErrandsPgSystem, "pgqueuer": PgQueuerSystem, "procrastinate": ProcrastinateSystem}
    new = {name: schemas.factory(kinds[name], name) for name in options.systems}
    jobs, each = options.jobs, results.systems

    say(f"(a) enqueue {jobs:,} jobs")
    results.one_row_commits = rerun_on_restart(db, schemas, lambda: insert_ceiling(db, jobs))
    say(f"  one-row INSERT per transaction, one client: {results.one_row_commits:,.0f} rows/s")
    for name in options.systems:
        measured(db, schemas, each[name], partial(run_enqueue, new[name], name, jobs))

    run_all_drains(options, db, schemas, new, each)

    say(f"(c) pick-up latency ({options.latency_jobs} jobs, {options.gap * 1000:g} ms apart) and idle CPU")
    for name in options.systems:
        setting = latency_setting(name, each[name].fastest_setting, options)
        measured(db, schemas, each[name], partial(run_latency, new[name], name, [setting], options))

    meter = (lambda: wal_syncs(db)) if options.wal else None
    for number in range(1, options.rounds + 1):
        say(f"round {number} of {options.rounds}: single enqueue, best drain, pick-up (the report shows medians)")
        for name in options.systems if number % 2 else reversed(options.systems):  # who goes first alternates
            drains = [each[name].fastest_setting, *([ErrandsSystem.defaults_setting()] if name == "errands" else [])]
            step = partial(run_round, new[name], name, drains, each[name].latency.setting, options, meter=meter)
            measured(db, schemas, each[name], step)

    if options.claim_sizes:
        results.claims = rerun_on_restart(db, schemas, lambda: run_claims(options, db, schemas))
    return results


def run_all_drains(
    options: PgOptions, db: Database, schemas: Schemas, new: dict[str, Factory], each: dict[str, Results]
) -> None:
    """Every drain setting of every system, then errands' best without per-job log lines and errands
    with its defaults; with `options.wal`, each counts the server's WAL fsyncs around its workers."""
    jobs, meter = options.jobs, (lambda: wal_syncs(db)) if options.wal else None
    say(f"(b) drain {jobs:,} jobs with two worker processes")
    for name, settings in drain_settings(options).items():
        for setting in settings if name in options.systems else []:
            measured(db, schemas, each[name], partial(run_drains, new[name], name, [setting], jobs, meter=meter))
    say("    errands' best again without per-job log lines, and errands with its defaults:")
    quiet = ErrandsSystem.setting(each["errands"].fastest_setting.concurrency, burst=True, quiet=True)
    for setting in (quiet, ErrandsSystem.defaults_setting()):
        step = partial(run_drains, new["errands"], "errands", [setting], jobs, meter=meter)
        measured(db, schemas, each["errands"], step)


def run_claims(options: PgOptions, db: Database, schemas: Schemas) -> list[ClaimCost]:
    sizes = sorted(options.claim_sizes)
    shown = ", ".join(f"{n:,}" for n in sizes)
    say(f"(d) errands claim cost: claims of {options.claim_batch} with {shown} finished jobs in the table")
    new = schemas.factory(ErrandsPgSystem, "errands")
    systems = [new(f"claim-{size}") for size in sizes]
    try:
        claims = claim_costs(systems, db, sizes, options.claim_batch, options.claim_rounds)  # type: ignore[arg-type]
    finally:
        for system in systems:
            system.close()
        schemas.drop_all()
    for c in claims:
        say(
            f"  {c.finished:,} finished: median {c.median_ms:.2f} ms, p90 {c.p90_ms:.2f} ms per claim of {c.batch}"
            f" (loading took {c.load_seconds:.1f} s)"
        )
    return claims
