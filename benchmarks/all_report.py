"""The one table of `all.py`: every workload of issue 12 on both stores, errands' best setting beside
its defaults and the fastest peer, with the goal and whether it is met; then the details."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks import growth
from benchmarks.all_suite import AllOptions, StoreResults
from benchmarks.report import drain_lines, latency_line
from benchmarks.workloads import DrainResult

SAME = "(same)"
DASH = "—"


@dataclass(frozen=True)
class Line:
    workload: str
    best: str
    defaults: str
    peer: str
    ratio: str
    goal: str
    met: bool | None  # None: no goal, shown for reference


def jobs_s(value: float) -> str:
    return f"{value:,.0f} jobs/s"


def times(value: float, of: str = "") -> str:
    return DASH if math.isnan(value) or math.isinf(value) else f"{value:.2f}×{f' {of}' if of else ''}"


def wal_per_job(d: DrainResult | None) -> float:
    return math.nan if d is None or d.metered is None else d.metered / d.jobs


def speed_lines(o: AllOptions, s: StoreResults) -> list[Line]:
    e, p, n = s.errands, s.peer_results, f"{o.jobs:,}"
    best, defaults, peer = e.best_drain, e.defaults_drain, p.best_drain
    pg = s.store == "PostgreSQL"
    drain_goal, single_goal = (1.25, 1.25) if pg else (3.0, 1.0)
    d_rate = defaults.rate if defaults else math.nan
    lines = [
        Line(f"drain {n} jobs, 2 worker processes", jobs_s(best.rate), jobs_s(d_rate), jobs_s(peer.rate),
             times(best.rate / peer.rate), f"≥ {drain_goal:g}× {s.peer}; defaults within 20% of best",
             best.rate >= drain_goal * peer.rate and d_rate >= 0.8 * best.rate),
        Line("drain: the pace once running (jobs 10%–90%), start-up left out", jobs_s(best.running_rate),
             jobs_s(defaults.running_rate if defaults else math.nan), jobs_s(peer.running_rate),
             times(best.running_rate / peer.running_rate), DASH, None),
        Line(f"enqueue {n} jobs, one call each", jobs_s(e.single), SAME, jobs_s(p.single),
             times(e.single / p.single), f"≥ {single_goal:g}× {s.peer}", e.single >= single_goal * p.single),
        Line(f"enqueue {n} jobs, bulk", jobs_s(e.bulk), SAME, jobs_s(p.bulk), times(e.bulk / p.bulk),
             f"≥ 1× {s.peer}" if pg else "≥ 100,000 jobs/s", e.bulk >= (p.bulk if pg else 100_000)),
    ]
    for pct, goal in ((50, 3.0), (99, math.nan)):
        ours, theirs = e.latency.percentile(pct), p.latency.percentile(pct)
        lines.append(Line(f"pick-up latency p{pct}, idle workers", f"{ours:.2f} ms", DASH, f"{theirs:.2f} ms",
                          times(theirs / ours), DASH if math.isnan(goal) else f"≤ {goal:g} ms",
                          None if math.isnan(goal) else ours <= goal))
    if pg:
        ours = wal_per_job(best)
        lines.append(Line("WAL fsyncs per executed job (drain)", f"{ours:.3f}", f"{wal_per_job(defaults):.3f}",
                          f"{wal_per_job(peer):.3f}", times(wal_per_job(peer) / ours), "≤ 0.05", ours <= 0.05))
    lines.append(Line("worker CPU per job, start-up included (drain)", f"{best.cpu_us_per_job:.0f} µs",
                      f"{defaults.cpu_us_per_job:.0f} µs" if defaults else DASH, f"{peer.cpu_us_per_job:.0f} µs",
                      times(peer.cpu_us_per_job / best.cpu_us_per_job), DASH, None))
    return lines


def growth_lines(o: AllOptions, s: StoreResults) -> list[Line]:
    if not s.growth:
        return []
    empty, *grown = growth.medians(s.growth)
    lines = [Line(f"first {o.jobs:,} jobs, empty store (2 workers, best setting)", jobs_s(empty.rate),
                  DASH, DASH, DASH, "the figure the next rows keep", None)]
    for g in grown:
        ratio = g.rate / empty.rate
        lines.append(Line(f"first {o.jobs:,} jobs, {g.label}", jobs_s(g.rate), DASH, DASH,
                          times(ratio, "empty"), "within 20% of empty store", ratio >= 0.8))
    plans = [p for g in s.growth for p in g.plans]
    indexes = sorted({i for p in plans for i in p.indexes})
    lines.append(Line(f"claim plans with {o.big_rows:,} rows ({len(plans)} plans)",
                      ", ".join(indexes) or "no index", DASH, DASH, DASH, "index scans only",
                      bool(plans) and all(p.on_index for p in plans)))
    if len(s.claims) >= 2:
        small, large = s.claims[0], s.claims[-1]
        ratio = large.median_ms / small.median_ms
        lines.append(Line(f"claim {large.batch} jobs, {large.finished:,} finished (median)",
                          f"{large.median_ms:.2f} ms", DASH, DASH, times(ratio, f"of {small.finished:,} finished"),
                          "within 20%", ratio <= 1.2))
    return lines


def memory_lines(s: StoreResults) -> list[Line]:
    m = s.memory
    if m is None or len(m.marks) < 2:
        return []
    (half, full), (rss_half, rss_full) = (m.marks[0], m.marks[-1]), (m.rss_mb[0], m.rss_mb[-1])
    return [
        Line(f"worker RSS after {half.jobs:,} → {full.jobs:,} jobs (1 process)", f"{rss_half:.1f} → {rss_full:.1f} MB",
             DASH, DASH, DASH, "≤ 60 MB, no growth (≤ 5%)", rss_full <= 60 and rss_full <= 1.05 * rss_half),
        Line(f"worker CPU per job, steady state (jobs {half.jobs:,} to {full.jobs:,})",
             f"{m.steady_cpu_us_per_job:.0f} µs", DASH, DASH, DASH, DASH, None),
    ]


def met(value: bool | None) -> str:
    return DASH if value is None else "yes" if value else "**no**"


def table(o: AllOptions, results: list[StoreResults]) -> list[str]:
    out = [
        "| workload | errands best | errands defaults | peer (fastest) | ratio (best) | goal | met? |",
        "|---|---:|---:|---:|---:|---|:-:|",
    ]
    for s in results:
        out.append(f"| **{s.store}** (peer: {s.peer}) | | | | | | |")
        for ln in speed_lines(o, s) + growth_lines(o, s) + memory_lines(s):
            cells = (ln.workload, ln.best, ln.defaults, ln.peer, ln.ratio, ln.goal, met(ln.met))
            out.append(f"| {' | '.join(cells)} |")
    return out


ISSUE_COMMITS = {"SQLite": 11_400, "PostgreSQL": 5_700}  # one-row commits/s, as issue 12 measured them
NOTES = [
    "ratio (best): how many times better errands' best setting is than the peer's fastest "
    "(errands/peer for jobs/s, peer/errands for ms, CPU and fsyncs); growth rows: errands against its empty store. "
    "errands' best: the first pass's fastest `--concurrency`, or the defaults when their rounds' median is faster "
    "(the rounds run both).",
    "errands defaults: 2 × `errands worker --burst` with nothing else (concurrency and log level as shipped).",
    "Drains run from spawning the workers until both exited on their own (`benchmarks/README.md`); growth rows "
    "until the last of the counted jobs wrote its line, each case the median of its rounds.",
]


def details(s: StoreResults) -> list[str]:
    out = [f"#### {s.store}", "", s.machine, ""]
    out += drain_lines("errands", s.errands) + drain_lines(s.peer, s.peer_results)
    out += [latency_line("errands", r) for r in s.errands.latencies]
    out += [latency_line(s.peer, r) for r in s.peer_results.latencies]
    for g in s.growth:
        out.append(f"- growth, {g.label}: {g.rate:,.0f} jobs/s; loading took {g.load_seconds:.1f} s")
        out += [f"  - plan of {p.describe()}" for p in g.plans]
    out += [f"- claim of {c.batch} with {c.finished:,} finished: median {c.median_ms:.2f} ms, p90 {c.p90_ms:.2f} ms"
            for c in s.claims]
    if s.memory:
        out += [f"- memory: {s.memory.setting.label}: " + ", ".join(
            f"{m.rss_bytes / (1024 * 1024):.1f} MB and {m.cpu_seconds:.1f} s CPU after {m.jobs:,} jobs"
            for m in s.memory.marks)]
    return out + [""]


def render(o: AllOptions, results: list[StoreResults]) -> tuple[str, str]:
    """The table with its notes (what the README shows), and the whole report."""
    problems = [f"- FAILED: {s.store}: {p}" for s in results for p in s.problems]
    checks = problems or ["- every run executed each job exactly once (line counts match the store)"]
    rounds = (f"Drains, single enqueues and pick-up: the median of {o.rounds} rounds after a first pass that "
              "found each system's fastest drain setting, the systems taking turns (the details list every run)."
              if o.rounds else "Every figure is a single run (`--rounds 0`).")
    notes = [f"- {note}" for note in [*NOTES, rounds]] + [f"- {s.store}: {s.machine}" for s in results]
    notes += [f"- The disk's pace in this run: {s.store} {s.commits:,.0f} one-row commits/s, one client "
              f"(the issue's machine: {ISSUE_COMMITS[s.store]:,}); runs made at another pace compare by ratios only."
              for s in results]
    summary = "\n".join(table(o, results) + [""] + notes)
    full = "\n".join(["## errands speed (issue 12)", "", summary, "", "### Details", ""]
                     + [ln for s in results for ln in details(s)] + ["### Checks", ""] + checks)
    return summary, full
