"""Cost as work grows: how fast workers get through the same jobs on an empty store, with a large
backlog queued, and with a large history of finished jobs; and whether the claim stays on its indexes.

Each case times two worker processes (the best drain setting, not in burst mode) from spawning them
until the `jobs`-th line is written, then stops them (SIGINT: running jobs finish, the rest stay
queued). The three cases are measured the same way, so they compare like with like:

- empty: `jobs` jobs in a fresh store;
- backlog: `rows` queued jobs of the same task loaded first (older, so they are claimed first: the
  jobs counted are jobs from the top of a deep queue), then the `jobs` jobs;
- history: `rows` succeeded jobs with their history lines loaded first, then the `jobs` jobs.

The three are measured in rounds, each case in a fresh store every round, the order turned from one
round to the next; each case's figure is its median round (a single run moves ±15% here).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmarks import plans, procs, rows
from benchmarks.plans import Plan
from benchmarks.suite import median_run
from benchmarks.systems import ErrandsSystem, Setting
from benchmarks.workloads import Factory, lines_written, read_lines, wait_for

CASES = (("empty store", None), ("queued", rows.QUEUED), ("finished", rows.SUCCEEDED))


@dataclass
class GrowthResult:
    case: str  # "empty store", "queued" or "finished"
    loaded: int  # jobs loaded before the measured ones
    jobs: int
    seconds: float  # from spawning the workers until the jobs-th line
    load_seconds: float
    plans: list[Plan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0

    @property
    def label(self) -> str:
        return self.case if not self.loaded else f"{self.loaded:,} {self.case} jobs in the store"


def measure(new: Factory, setting: Setting, jobs: int, loaded: int, state: str | None) -> GrowthResult:
    system = new(f"growth-{state or 'empty'}")
    assert isinstance(system, ErrandsSystem)
    load_seconds = rows.load(system, loaded, state, first=jobs) if state else 0.0
    found = plans.explain(system) if state else []
    system.enqueue_bulk(range(jobs))
    system.close()
    start = time.perf_counter()
    workers = procs.start(setting.commands, system.env, system.folder)
    try:
        done = wait_for(lambda: lines_written(system.output) >= jobs or workers.all_exited(), max(60.0, jobs / 100))
        seconds = time.perf_counter() - start
    finally:
        workers.stop(timeout=60.0)
    problems = [] if done else [f"timed out: {lines_written(system.output)} of {jobs} lines"]
    problems += check(system, loaded if state == rows.SUCCEEDED else 0) + workers.failures()
    system.close()
    return GrowthResult(state or "empty store", loaded if state else 0, jobs, seconds, load_seconds, found, problems)


def check(system: ErrandsSystem, finished_before: int) -> list[str]:
    """No job ran twice, none is left running, and the store counts one success per line written."""
    numbers = [n for n, _, _ in read_lines(system.output)]
    repeated = len(numbers) - len(set(numbers))
    problems = [f"{repeated} job(s) ran more than once"] if repeated else []
    counts = system.app.stats().get("default", {})
    succeeded = counts.get("succeeded", 0) - finished_before
    if succeeded != len(numbers) or counts.get("running", 0):
        problems.append(f"store holds {counts} after {len(numbers)} lines ({finished_before:,} loaded as succeeded)")
    return problems


def run(new: Factory, setting: Setting, jobs: int, loaded: int, rounds: int = 1) -> list[GrowthResult]:
    """Every run of the three cases, `rounds` times; round r starts at case r (mod 3)."""
    results = []
    for r in range(rounds):
        turned = CASES[r % len(CASES):] + CASES[:r % len(CASES)]
        results += [measure(new, setting, jobs, loaded, state) for _, state in turned]
    return results


def medians(results: list[GrowthResult]) -> list[GrowthResult]:
    """Each case's median run (by rate), empty store first: the figure the other two are compared with."""
    cases = [[g for g in results if g.case == (state or "empty store")] for _, state in CASES]
    return [median_run(runs, lambda g: g.rate) for runs in cases if runs]
