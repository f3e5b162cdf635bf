"""Runs every workload on both systems, in one process, and collects the figures for the report."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
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
    rounds: int = 3  # rounds after the first pass: the headline figures are their medians
    base: Path = Path("/tmp")


@dataclass
class Results:
    """Everything measured for one system. A first pass measures every figure (and every drain
    setting, to find the fastest); the rounds after it measure the headline figures again, and those
    read as their median round: runs of one machine move by ±15% from minute to minute, more than
    most differences. The first pass's run of the fastest setting is left out of its median (it won
    the selection, so it leans high), unless no round was run."""

    singles: list[float] = field(default_factory=list)  # the first pass's, then one per round
    bulks: list[float] = field(default_factory=list)  # likewise
    drains: list[DrainResult] = field(default_factory=list)
    latencies: list[LatencyResult] = field(default_factory=list)

    @property
    def single(self) -> float:
        return later_median(self.singles)

    @property
    def bulk(self) -> float:
        return later_median(self.bulks)

    @property
    def fastest_setting(self) -> Setting:
        """The first pass's fastest drain setting with default logging, the defaults apart: the one
        the rounds run again (beside the defaults, for errands). Quiet runs only show what logging costs."""
        first = [d for d in self.drains if not d.setting.quiet and not d.setting.defaults and not d.repeat]
        return max([d for d in first if not d.problems] or first, key=rate).setting

    @property
    def best_drain(self) -> DrainResult:
        """The median round of the fastest setting: the first pass's fastest, or errands' defaults when
        their median round is faster (the rounds run both, so the defaults are a setting like the others)."""
        fastest = self.fastest_setting
        best = headline([d for d in self.drains if d.setting.label == fastest.label], rate)
        defaults = self.defaults_drain
        return defaults if defaults is not None and not defaults.problems and defaults.rate > best.rate else best

    @property
    def defaults_drain(self) -> DrainResult | None:
        """The median round of `errands worker` with no options but --burst, if it was measured."""
        runs = [d for d in self.drains if d.setting.defaults]
        return headline(runs, rate) if runs else None

    @property
    def latency(self) -> LatencyResult:
        """The median round (by p50) of the first latency setting; its idle CPU is that round's."""
        first = self.latencies[0].setting.label
        return headline([r for r in self.latencies if r.setting.label == first], lambda r: r.percentile(50))

    @property
    def problems(self) -> list[str]:
        found = [f"drain {d.setting.label}: {p}" for d in self.drains for p in d.problems]
        return found + [f"latency {r.setting.label}: {p}" for r in self.latencies for p in r.problems]


Run = TypeVar("Run", DrainResult, LatencyResult)


def headline(runs: Sequence[Run], key: Callable[[Run], float]) -> Run:
    """The median of the runs made in rounds (the first pass's only when there were none), runs
    without problems first."""
    later = [r for r in runs if r.repeat] or list(runs)
    clean = [r for r in later if not r.problems and not math.isnan(key(r))] or later
    return median_run(clean, key)


def later_median(figures: Sequence[float]) -> float:
    """The median of the rounds' figures (the first pass's alone when there were none), else 0."""
    later = figures[1:] or figures
    return median_run(later, float) if later else 0.0


def rate(drain: DrainResult) -> float:
    return drain.rate


def median_run(runs: Sequence[T], key: Callable[[T], float]) -> T:
    """The run whose figure is the median (the lower middle one of an even number)."""
    return sorted(runs, key=key)[(len(runs) - 1) // 2]


def rounds_option(text: str) -> int:
    """`--rounds`: how many rounds follow the first pass (0: the first pass alone)."""
    rounds = int(text)
    if rounds < 0:
        raise argparse.ArgumentTypeError(f"--rounds must be 0 or more, not {rounds}")
    return rounds


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def factory(kind: Callable[[Path], System], base: Path) -> Factory:
    return lambda label: kind(fresh_folder(base, kind.__name__.removesuffix("System").lower(), label))


def run_enqueue(new: Factory, name: str, jobs: int, results: Results) -> None:
    results.singles.append(enqueue_single(new, jobs))
    say(f"  {name}: enqueue one at a time {results.singles[-1]:,.0f} jobs/s")
    results.bulks.append(enqueue_bulk(new, jobs))
    say(f"  {name}: enqueue in bulk        {results.bulks[-1]:,.0f} jobs/s")


def run_round(
    new: Factory, name: str, drains: Sequence[Setting], pickup: Setting, options: Options, results: Results,
    meter: Meter | None = None,
) -> None:
    """One more round of the headline figures: single and bulk enqueue, `drains`, pick-up latency."""
    drained, picked = len(results.drains), len(results.latencies)
    run_enqueue(new, name, options.jobs, results)
    run_drains(new, name, list(drains), options.jobs, results, meter)
    run_latency(new, name, [pickup], options, results)
    for drained_run in results.drains[drained:]:
        drained_run.repeat = True
    for picked_run in results.latencies[picked:]:
        picked_run.repeat = True


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
            f"  {name}: drain {setting.label}: {result.rate:,.0f} jobs/s (first job at {result.first_start:.2f}s, "
            f"last line at {result.seconds_to_last_line:.2f}s{exited}; {result.running_rate:,.0f} jobs/s once "
            f"running; {result.cpu_us_per_job:.0f} µs CPU per job)"
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
    best_k, huey_shape = errands.fastest_setting.concurrency, huey.fastest_setting.shape
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
    for number in range(1, options.rounds + 1):
        say(f"round {number} of {options.rounds}: single enqueue, best drain, pick-up (the report shows medians)")
        turns = [
            partial(run_round, new_errands, "errands", [errands.fastest_setting, ErrandsSystem.defaults_setting()],
                    errands.latency.setting, options, errands),
            partial(run_round, new_huey, "huey", [huey.fastest_setting], huey.latency.setting, options, huey),
        ]
        for turn in turns if number % 2 else reversed(turns):  # who goes first alternates
            turn()
    return errands, huey


HUEY_SHAPES = ("huey-processes", "huey-consumers")
