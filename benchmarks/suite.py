"""Runs every workload on both systems, in one process, and collects the figures for the report."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from benchmarks.systems import ErrandsSystem, HueySystem, Setting, System
from benchmarks.workloads import (
    DrainResult,
    Factory,
    LatencyResult,
    Meter,
    drain,
    enqueue_bulk,
    enqueue_single,
    fresh_folder,
    latency_and_idle,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    jobs: int = 10_000
    latency_jobs: int = 300
    gap: float = 0.020
    idle_seconds: float = 5.0
    concurrency: tuple[int, ...] = (8, 16, 32, 64, 128)
    huey_poll: float = 0.002  # the tuned huey polling interval, equal to errands' default poll_interval
    rounds: int = 3  # the headline figures are medians of this many rounds, the systems taking turns
    base: Path = Path("/tmp")


@dataclass
class Results:
    """Everything measured for one system. A figure measured in several rounds reads as its median
    round: runs of one machine move by ±15% from minute to minute, more than most differences."""

    singles: list[float] = field(default_factory=list)
    bulk: float = 0.0
    drains: list[DrainResult] = field(default_factory=list)
    latencies: list[LatencyResult] = field(default_factory=list)

    @property
    def single(self) -> float:
        return statistics.median(self.singles) if self.singles else 0.0

    @property
    def best_drain(self) -> DrainResult:
        """The median run of the fastest drain setting with default logging: the setting measured in
        every round (the others ran once, to find it), else the fastest. The quiet runs only show
        what logging costs; the defaults run is shown beside the best, never counted as it."""
        candidates = [d for d in self.drains if not d.setting.quiet and not d.setting.defaults]
        runs = by_setting(d for d in candidates if not d.problems) or by_setting(candidates)
        return median_run(max(runs.values(), key=lambda r: (len(r), median_run(r, rate).rate)), rate)

    @property
    def defaults_drain(self) -> DrainResult | None:
        """The median run of `errands worker` with no options but --burst, if it was measured."""
        runs = [d for d in self.drains if d.setting.defaults]
        return median_run(runs, rate) if runs else None

    @property
    def latency(self) -> LatencyResult:
        """The round with the median p50 pick-up of the first setting measured."""
        first = self.latencies[0].setting.label
        return median_run([r for r in self.latencies if r.setting.label == first], lambda r: r.percentile(50))

    @property
    def problems(self) -> list[str]:
        found = [f"drain {d.setting.label}: {p}" for d in self.drains for p in d.problems]
        return found + [f"latency {r.setting.label}: {p}" for r in self.latencies for p in r.problems]


def rate(drain: DrainResult) -> float:
    return drain.rate


def by_setting(drains: Iterable[DrainResult]) -> dict[str, list[DrainResult]]:
    runs: dict[str, list[DrainResult]] = {}
    for d in drains:
        runs.setdefault(d.setting.label, []).append(d)
    return runs


def median_run(runs: Sequence[T], key: Callable[[T], float]) -> T:
    """The run whose figure is the median (the lower middle one of an even number)."""
    return sorted(runs, key=key)[(len(runs) - 1) // 2]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def factory(kind: Callable[[Path], System], base: Path) -> Factory:
    return lambda label: kind(fresh_folder(base, kind.__name__.removesuffix("System").lower(), label))


def run_enqueue(new: Factory, name: str, jobs: int, results: Results) -> None:
    run_single(new, name, jobs, results)
    results.bulk = enqueue_bulk(new, jobs)
    say(f"  {name}: enqueue in bulk        {results.bulk:,.0f} jobs/s")


def run_single(new: Factory, name: str, jobs: int, results: Results) -> None:
    results.singles.append(enqueue_single(new, jobs))
    say(f"  {name}: enqueue one at a time {results.singles[-1]:,.0f} jobs/s")


def run_round(
    new: Factory, name: str, drains: Sequence[Setting], pickup: Setting, options: Options, results: Results,
    meter: Meter | None = None,
) -> None:
    """One more round of the headline figures: single enqueue, `drains`, pick-up latency."""
    run_single(new, name, options.jobs, results)
    run_drains(new, name, list(drains), options.jobs, results, meter)
    run_latency(new, name, [pickup], options, results)


def run_drains(
    new: Factory, name: str, settings: list[Setting], jobs: int, results: Results, meter: Meter | None = None
) -> None:
    for setting in settings:
        result = drain(new, setting, jobs, meter)
        results.drains.append(result)
        exited = "" if result.seconds_to_exit is None else f", workers exited at {result.seconds_to_exit:.2f}s"
        if result.metered is not None:
            exited += f"; {result.metered:.0f} WAL fsyncs"
        say(
            f"  {name}: drain {setting.label}: {result.rate:,.0f} jobs/s (last line at "
            f"{result.seconds_to_last_line:.2f}s{exited}; {result.cpu_us_per_job:.0f} µs CPU per job)"
            f"{'  PROBLEMS: ' if result.problems else ''}{'; '.join(result.problems)}"
        )


def run_latency(new: Factory, name: str, settings: list[Setting], options: Options, results: Results) -> None:
    for setting in settings:
        result = latency_and_idle(new, setting, options.latency_jobs, options.gap, options.idle_seconds)
        results.latencies.append(result)
        say(
            f"  {name}: {setting.label}: pick-up p50 {result.percentile(50):.1f} ms, p95 {result.percentile(95):.1f} "
            f"ms, p99 {result.percentile(99):.1f} ms; idle {result.idle_cpu_percent:.2f}% of a core per worker"
            f"{'  PROBLEMS: ' if result.problems else ''}{'; '.join(result.problems)}"
        )


def run_all(options: Options) -> tuple[Results, Results]:
    errands, huey = Results(), Results()
    new_errands, new_huey = factory(ErrandsSystem, options.base), factory(HueySystem, options.base)
    say(f"(a) enqueue {options.jobs:,} jobs")
    run_enqueue(new_errands, "errands", options.jobs, errands)
    run_enqueue(new_huey, "huey", options.jobs, huey)

    say(f"(b) drain {options.jobs:,} jobs with two worker processes")
    run_drains(
        new_errands,
        "errands",
        [ErrandsSystem.setting(k, burst=True) for k in options.concurrency],
        options.jobs,
        errands,
    )
    run_drains(new_huey, "huey", [HueySystem.setting(shape) for shape in HUEY_SHAPES], options.jobs, huey)
    best_k, huey_shape = errands.best_drain.setting.concurrency, huey.best_drain.setting.shape
    say("    the best of each again without per-job log lines, and errands with its defaults:")
    quiet_and_defaults = [ErrandsSystem.setting(best_k, burst=True, quiet=True), ErrandsSystem.defaults_setting()]
    run_drains(new_errands, "errands", quiet_and_defaults, options.jobs, errands)
    run_drains(new_huey, "huey", [HueySystem.setting(huey_shape, quiet=True)], options.jobs, huey)

    say(f"(c) pick-up latency ({options.latency_jobs} jobs, {options.gap * 1000:g} ms apart) and idle CPU")
    run_latency(new_errands, "errands", [ErrandsSystem.setting(best_k, burst=False)], options, errands)
    run_latency(
        new_huey,
        "huey",
        [HueySystem.setting(huey_shape, poll=options.huey_poll), HueySystem.setting(huey_shape)],
        options,
        huey,
    )
    for number in range(2, options.rounds + 1):
        say(f"round {number} of {options.rounds}: single enqueue, best drain, pick-up (the report shows medians)")
        errands_drains = [errands.best_drain.setting, ErrandsSystem.defaults_setting()]
        run_round(new_errands, "errands", errands_drains, errands.latency.setting, options, errands)
        run_round(new_huey, "huey", [huey.best_drain.setting], huey.latency.setting, options, huey)
    return errands, huey


HUEY_SHAPES = ("huey-processes", "huey-consumers")
