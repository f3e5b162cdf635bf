"""The PostgreSQL report: one table (workload | errands | pgqueuer | procrastinate | ratios), the settings
tried, the claim cost, and the issue's goals marked met or missed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.pg_suite import PgOptions, PgResults
from benchmarks.pg_systems import PgQueuerSystem, ProcrastinateSystem
from benchmarks.report import drain_lines, fmt, latency_line
from benchmarks.suite import Results


@dataclass(frozen=True)
class Row:
    workload: str
    values: dict[str, float]  # by system name; a missing system shows as a dash
    unit: str
    higher_is_better: bool

    def ratio(self, peer: str) -> float:
        """How many times better errands is than `peer` (above 1) or worse (below 1)."""
        ours, theirs = self.values.get("errands", math.nan), self.values.get(peer, math.nan)
        top, bottom = (ours, theirs) if self.higher_is_better else (theirs, ours)
        if not bottom:
            return math.nan if not top else math.inf  # both zero (idle CPU below the clock tick): no ratio
        return top / bottom


@dataclass(frozen=True)
class Goal:
    text: str
    met: Callable[[PgResults], bool]


def _rate(r: PgResults, name: str, figure: str) -> float:
    s = r.systems[name]
    return {"single": s.single, "bulk": s.bulk, "drain": s.best_drain.rate}[figure]


def _latency(r: PgResults, p: int) -> float:
    return r.systems["errands"].latency.percentile(p)


def claim_flat(r: PgResults) -> bool:
    return len(r.claims) >= 2 and r.claims[-1].median_ms <= 1.2 * r.claims[0].median_ms


GOALS = [
    Goal("drain >= 1.25x pgqueuer", lambda r: _rate(r, "errands", "drain") >= 1.25 * _rate(r, "pgqueuer", "drain")),
    Goal(
        "single enqueue >= 1.5x pgqueuer",
        lambda r: _rate(r, "errands", "single") >= 1.5 * _rate(r, "pgqueuer", "single"),
    ),
    Goal("bulk enqueue >= pgqueuer", lambda r: _rate(r, "errands", "bulk") >= _rate(r, "pgqueuer", "bulk")),
    Goal("pick-up p50 < 3 ms", lambda r: _latency(r, 50) < 3),
    Goal("pick-up p99 < 8 ms", lambda r: _latency(r, 99) < 8),
    Goal("claim cost flat (within 20%) from the fewest to the most finished jobs", claim_flat),
]


def _each(r: PgResults, value: Callable[[Results], float]) -> dict[str, float]:
    return {name: value(s) for name, s in r.systems.items()}


def _percentiles(r: PgResults, p: int) -> dict[str, float]:
    return {name: s.latency.percentile(p) for name, s in r.systems.items()}


def rows(options: PgOptions, r: PgResults) -> list[Row]:
    n = f"{options.jobs:,}"
    table = [
        Row(f"enqueue {n} jobs, one call each", _each(r, lambda s: s.single), "jobs/s", True),
        Row(f"enqueue {n} jobs, bulk", _each(r, lambda s: s.bulk), "jobs/s", True),
        Row(
            f"drain {n} no-op jobs, 2 worker processes (best setting)",
            _each(r, lambda s: s.best_drain.rate),
            "jobs/s",
            True,
        ),
    ]
    quiet = [d for d in r.systems["errands"].drains if d.setting.quiet]
    if quiet:
        values = _each(r, lambda s: s.best_drain.rate) | {"errands": quiet[0].rate}
        table.append(Row(f"drain {n}, errands without per-job log lines (peers as above)", values, "jobs/s", True))
    for p in (50, 95, 99):
        table.append(Row(f"pick-up latency p{p}, idle workers", _percentiles(r, p), "ms", False))
    idle = f"idle worker CPU over {options.idle_seconds:g} s"
    table.append(Row(idle, _each(r, lambda s: s.latency.idle_cpu_percent), "% of a core", False))
    for c in r.claims:
        table.append(
            Row(
                f"claim {c.batch} jobs, {c.finished:,} finished in the table (median)",
                {"errands": c.median_ms},
                "ms",
                False,
            )
        )
    return table


def _cell(row: Row, name: str) -> str:
    value = row.values.get(name)
    return "—" if value is None else fmt(value, row.unit)


def _ratio(row: Row, peer: str) -> str:
    ratio = row.ratio(peer)
    return "—" if peer not in row.values or math.isnan(ratio) else f"{ratio:.2f}x"


def table(rows_: list[Row]) -> list[str]:
    out = [
        "| workload | errands | pgqueuer | procrastinate | errands/pgqueuer | errands/procrastinate |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows_:
        cells = " | ".join(_cell(row, name) for name in ("errands", "pgqueuer", "procrastinate"))
        out.append(f"| {row.workload} | {cells} | {_ratio(row, 'pgqueuer')} | {_ratio(row, 'procrastinate')} |")
    return out


def claim_lines(r: PgResults) -> list[str]:
    return [
        f"- {c.finished:,} finished jobs: median {c.median_ms:.2f} ms, p90 {c.p90_ms:.2f} ms per claim of "
        f"{c.batch} ({1000 * c.median_ms / c.batch:.0f} µs per job) over {len(c.seconds)} claims; loading the "
        f"rows and VACUUM ANALYZE took {c.load_seconds:.1f} s"
        for c in r.claims
    ]


def notes(options: PgOptions, r: PgResults) -> list[str]:
    lat = {name: s.latency.setting.label for name, s in r.systems.items()}
    return [
        "Ratios are how many times better errands is: errands/peer for jobs/s, peer/errands for ms and CPU.",
        f"A one-row INSERT per transaction from one client (autocommit, psycopg) reached "
        f"{r.one_row_commits:,.0f} rows/s: the ceiling for any durable one-call enqueue here.",
        f"Bulk: errands `app.enqueue_many` (one transaction); pgqueuer {PgQueuerSystem.bulk_method}; "
        f"procrastinate {ProcrastinateSystem.bulk_method}.",
        "Drain: from spawning the two worker processes until both exited on their own once the queue was empty "
        "(errands `--burst`, pgqueuer `--mode drain`, procrastinate `--one-shot`), so start-up and the recording "
        "of every outcome count.",
        f"Latency and idle rows: errands {lat['errands']}; pgqueuer {lat['pgqueuer']}; "
        f"procrastinate {lat['procrastinate']}.",
        f"Claim rows: errands' `store.claim` of {options.claim_batch} jobs just enqueued, naming their task (the "
        "transaction a worker serving every queue commits: the claiming UPDATE and one event per job), each size in "
        "a schema of its own, loaded by INSERT ... SELECT generate_series with `succeeded` rows and their history, "
        "then VACUUM ANALYZE; claims "
        "alternate between the sizes, and the claimed jobs are deleted after each claim (untimed).",
    ]


def render(options: PgOptions, r: PgResults, machine: str) -> str:
    out = ["## errands vs pgqueuer vs procrastinate on PostgreSQL", "", machine, ""]
    out += table(rows(options, r)) + [""] + notes(options, r)
    out += ["", "### Drain settings tried", ""]
    for name in r.systems:
        out += drain_lines(name, r.systems[name])
    out += ["", "### Pick-up latency and idle CPU", ""]
    out += [latency_line(name, run) for name, s in r.systems.items() for run in s.latencies]
    out += ["", "### errands claim cost", ""] + claim_lines(r)
    out += ["", "### errands goals (issue 4)", ""]
    out += [f"- [{'x' if g.met(r) else ' '}] {'met' if g.met(r) else 'missed'}: {g.text}" for g in GOALS]
    out += ["", "### Checks", ""]
    out += [f"- FAILED: {p}" for p in r.problems] or ["- every run executed each job exactly once (line counts match)"]
    return "\n".join(out)
