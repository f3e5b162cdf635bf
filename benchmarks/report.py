"""The final markdown: one table (workload | errands | huey | ratio), the drain settings tried,
and whether errands meets its goals."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.suite import Options, Results
from benchmarks.systems import ErrandsSystem, HueySystem
from benchmarks.workloads import LatencyResult


@dataclass(frozen=True)
class Row:
    workload: str
    errands: float
    huey: float
    unit: str
    higher_is_better: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        """How many times better errands is (above 1) or worse (below 1)."""
        top, bottom = (self.errands, self.huey) if self.higher_is_better else (self.huey, self.errands)
        return top / bottom if bottom else math.inf


@dataclass(frozen=True)
class Goal:
    text: str
    met: Callable[[Results, Results], bool]


GOALS = [
    Goal("drain >= 3x huey (aim 5x)", lambda e, h: e.best_drain.rate >= 3 * h.best_drain.rate),
    Goal("single enqueue >= 1.25x huey", lambda e, h: e.single >= 1.25 * h.single),
    Goal("bulk enqueue >= 50,000 jobs/s", lambda e, h: e.bulk >= 50_000),
    Goal("pick-up p50 < 5 ms", lambda e, h: e.latency.percentile(50) < 5),
    Goal("pick-up p99 < 15 ms", lambda e, h: e.latency.percentile(99) < 15),
    Goal("idle worker < 2% of a core", lambda e, h: e.latency.idle_cpu_percent < 2),
]


def rows(options: Options, errands: Results, huey: Results) -> list[Row]:
    e_lat, h_lat = errands.latency, huey.latency
    n = f"{options.jobs:,}"
    table = [
        Row(f"enqueue {n} jobs, one call each", errands.single, huey.single, "jobs/s", True),
        Row(f"enqueue {n} jobs, bulk", errands.bulk, huey.bulk, "jobs/s", True),
        Row(
            f"drain {n} no-op jobs, 2 worker processes (best setting)",
            errands.best_drain.rate,
            huey.best_drain.rate,
            "jobs/s",
            True,
        ),
    ]
    for p in (50, 95, 99):
        table.append(Row(f"pick-up latency p{p}, idle workers", e_lat.percentile(p), h_lat.percentile(p), "ms", False))
    idle = f"idle worker CPU over {options.idle_seconds:g} s"
    table.append(Row(idle, e_lat.idle_cpu_percent, h_lat.idle_cpu_percent, "% of a core", False))
    return table


def fmt(value: float, unit: str) -> str:
    if unit == "jobs/s":
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def table(rows_: list[Row]) -> list[str]:
    out = ["| workload | errands | huey | ratio |", "|---|---:|---:|---:|"]
    out += [f"| {r.workload} | {fmt(r.errands, r.unit)} | {fmt(r.huey, r.unit)} | {r.ratio:.2f}x |" for r in rows_]
    return out


def drain_lines(name: str, results: Results) -> list[str]:
    best = results.best_drain
    out = []
    for d in results.drains:
        exited = "" if d.seconds_to_exit is None else f"; both exited at {d.seconds_to_exit:.2f} s"
        if d.metered is not None:
            exited += f"; {d.metered:.0f} WAL fsyncs server-wide, {d.metered / d.jobs:.3f} per job"
        mark = " **(in the table: the best setting's median run)**" if d is best else ""
        out.append(
            f"- {name}: {d.setting.label}: {d.rate:,.0f} jobs/s (first job began at {d.first_start:.2f} s, last "
            f"line at {d.seconds_to_last_line:.2f} s{exited}; {d.running_rate:,.0f} jobs/s once running; "
            f"{d.cpu_us_per_job:.0f} µs CPU per job, startup included){mark}"
        )
    return out


def latency_line(name: str, r: LatencyResult) -> str:
    return (
        f"- {name}: {r.setting.label}: p50 {r.percentile(50):.2f} ms, p95 {r.percentile(95):.2f} ms, "
        f"p99 {r.percentile(99):.2f} ms, max {max(r.latencies_ms, default=math.nan):.2f} ms; "
        f"idle {r.idle_cpu_percent:.2f}% of a core per worker process"
    )


def render(options: Options, errands: Results, huey: Results, machine: str) -> str:
    out = ["## errands vs huey (SqliteHuey)", "", machine, ""]
    out += table(rows(options, errands, huey))
    out += [
        "",
        "ratio > 1 means errands is better: errands/huey for jobs/s, huey/errands for ms and CPU.",
        f"Bulk: errands {ErrandsSystem.bulk_method}; huey {HueySystem.bulk_method}.",
        "Drain: from starting the workers until errands' `--burst` workers both exited (every outcome "
        "recorded); for huey until the last line was written (huey has no burst mode). Both systems keep "
        "their default logging (errands one INFO line per job, huey two); the quiet runs below show what that costs.",
        f"Latency and idle rows: errands {errands.latency.setting.label}; "
        f"huey {huey.latency.setting.label} (polling every {options.huey_poll * 1000:g} ms, "
        "like errands' default `poll_interval`).",
        "",
        "### Drain settings tried",
        "",
    ]
    out += drain_lines("errands", errands) + drain_lines("huey", huey)
    out += ["", "### Pick-up latency and idle CPU, every setting", ""]
    out += [latency_line("errands", r) for r in errands.latencies] + [latency_line("huey", r) for r in huey.latencies]
    out += ["", "### errands goals", ""]
    out += [f"- [{'x' if g.met(errands, huey) else ' '}] {g.text}" for g in GOALS]
    problems = errands.problems + huey.problems
    out += ["", "### Checks", ""]
    out += [f"- FAILED: {p}" for p in problems] or ["- every run executed each job exactly once (line counts match)"]
    return "\n".join(out)
