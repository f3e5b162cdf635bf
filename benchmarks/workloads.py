"""The workloads: enqueue (one at a time and in bulk), drain with two worker processes, and
pick-up latency plus idle CPU of workers that wait for work.

Each function takes a factory for a fresh system, so every measurement starts on an
empty database, and returns plain numbers; nothing here prints.
"""

from __future__ import annotations

import math
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import procs
from benchmarks.systems import Setting, System
from benchmarks.tasks import LINE_BYTES, parse_line

Factory = Callable[[str], System]  # label of the run -> a system on a fresh folder
Meter = Callable[[], float]  # a counter read before the workers start and after they exit (WAL fsyncs)


@dataclass
class DrainResult:
    setting: Setting
    jobs: int
    seconds_to_last_line: float
    seconds_to_exit: float | None  # burst workers only: until both processes exited (all outcomes recorded)
    cpu_seconds: float  # user + system time of the worker processes and their children, start to exit
    problems: list[str] = field(default_factory=list)
    metered: float | None = None  # what the drain's meter (if any) counted from start to exit
    repeat: bool = False  # measured in a round after the first pass (`suite.run_round`)
    first_start: float = math.nan  # seconds from starting the workers until the first job's body began
    running_rate: float = math.nan  # jobs/s once running: between the starts of the 10th and 90th percent

    @property
    def seconds(self) -> float:
        """The figure compared: until the workers exited when they do so on their own, else the last line."""
        return self.seconds_to_exit if self.seconds_to_exit is not None else self.seconds_to_last_line

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_us_per_job(self) -> float:
        return 1e6 * self.cpu_seconds / self.jobs


@dataclass
class LatencyResult:
    setting: Setting
    latencies_ms: list[float]
    idle_cpu_percent: float  # of one core, per worker process
    problems: list[str] = field(default_factory=list)
    repeat: bool = False  # measured in a round after the first pass (`suite.run_round`)

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.002) -> bool:
    """Poll `predicate()` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def lines_written(path: Path) -> int:
    try:
        return path.stat().st_size // LINE_BYTES
    except FileNotFoundError:
        return 0


def read_lines(path: Path) -> list[tuple[int, float, float]]:
    if not path.exists():
        return []
    return [parse_line(line) for line in path.read_text().splitlines()]


def count_problems(path: Path, expected: int) -> list[str]:
    """The file must hold exactly `expected` lines, one per job number."""
    rows = read_lines(path)
    problems = []
    if len(rows) != expected:
        problems.append(f"{path.name} has {len(rows)} lines, expected {expected}")
    distinct = len({n for n, _, _ in rows})
    if distinct != len(rows):
        problems.append(f"{len(rows) - distinct} job(s) ran more than once")
    return problems


# -- (a) enqueue -------------------------------------------------------------------


def enqueue_single(new_system: Factory, jobs: int) -> float:
    """Jobs per second, one enqueue call (one durable commit) per job."""
    system = new_system("enqueue-single")
    try:
        start = time.perf_counter()
        for n in range(jobs):
            system.enqueue_one(n, time.time())
        return jobs / (time.perf_counter() - start)
    finally:
        system.close()


def enqueue_bulk(new_system: Factory, jobs: int) -> float:
    """Jobs per second through the system's bulk call."""
    system = new_system("enqueue-bulk")
    numbers = list(range(jobs))
    try:
        start = time.perf_counter()
        system.enqueue_bulk(numbers)
        return jobs / (time.perf_counter() - start)
    finally:
        system.close()


def insert_ceiling(folder: Path, jobs: int) -> float:
    """Rows/s for `jobs` one-row INSERTs into a fresh SQLite file, each its own transaction, with the
    durability both systems keep (WAL, synchronous=FULL): the most any single enqueue can reach here."""
    conn = sqlite3.connect(folder / "one_row_commits.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE one_row_commits (id INTEGER PRIMARY KEY, v TEXT)")
        start = time.perf_counter()
        for n in range(jobs):
            conn.execute("INSERT INTO one_row_commits (v) VALUES (?)", (str(n),))
        return jobs / (time.perf_counter() - start)
    finally:
        conn.close()


# -- (b) drain ---------------------------------------------------------------------------


def drain(new_system: Factory, setting: Setting, jobs: int, meter: Meter | None = None) -> DrainResult:
    """Pre-enqueue `jobs`, start two worker processes, time until all jobs ran; with `meter`, also
    what it counted between just before the start and just after the workers exited (untimed)."""
    system = new_system("drain")
    system.enqueue_bulk(range(jobs))
    system.close()  # the runner holds no connection while workers run
    timeout = max(60.0, jobs / 100)
    metered = None if meter is None else -meter()
    cpu_before = children_cpu_seconds()
    start, start_clock = time.perf_counter(), time.time()
    workers = procs.start(setting.commands, system.env, system.folder)
    try:
        done = wait_for(lambda: lines_written(system.output) >= jobs or workers.all_exited(), timeout)
        to_last_line = time.perf_counter() - start
        to_exit = None
        if setting.exits_when_done and done:
            workers.wait(timeout)
            to_exit = time.perf_counter() - start
    finally:
        workers.stop()
    cpu = children_cpu_seconds() - cpu_before
    if metered is not None and meter is not None:
        metered += meter()
    problems = count_problems(system.output, jobs) + system.check_drained(jobs) + workers.failures()
    system.close()
    first_start, running_rate = start_and_pace(read_lines(system.output), start_clock)
    return DrainResult(setting, jobs, to_last_line, to_exit, cpu, problems, metered, first_start=first_start,
                       running_rate=running_rate)


def start_and_pace(rows: list[tuple[int, float, float]], start_clock: float) -> tuple[float, float]:
    """From a drain's lines: seconds until the first job began (the workers' start-up), and jobs/s
    between the start of the 10th and the 90th percent of them (the pace once running, which the
    start-up and the last stragglers do not dilute)."""
    starts = sorted(started for _, _, started in rows)
    if len(starts) < 10:
        return math.nan, math.nan
    low, high = len(starts) // 10, len(starts) * 9 // 10
    span = starts[high] - starts[low]
    return starts[0] - start_clock, (high - low) / span if span > 0 else math.nan


def children_cpu_seconds() -> float:
    """CPU of every child this runner has reaped (a huey consumer reaps its own worker processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- (c) pick-up latency and idle CPU ---------------------------------------------------------


def latency_and_idle(
    new_system: Factory, setting: Setting, jobs: int, gap: float, idle_seconds: float, worker_count: int = 2
) -> LatencyResult:
    """Start workers, let them go idle, measure their CPU, then enqueue `jobs` one every `gap` seconds."""
    system = new_system("latency")
    workers = procs.start(setting.commands, system.env, system.folder)
    problems: list[str] = []
    try:
        system.enqueue_one(-1, time.time())  # warm-up: both sides fully started
        if not wait_for(lambda: lines_written(system.output) >= 1, 30.0):
            problems.append("warm-up job never ran")
        time.sleep(1.0)
        idle = idle_cpu_percent(workers.pids, idle_seconds) / worker_count
        send_spaced(system, jobs, gap)
        if not wait_for(lambda: lines_written(system.output) >= jobs + 1, 30.0):
            problems.append("timed out waiting for the jobs")
    finally:
        workers.stop()
        system.close()
    rows = [row for row in read_lines(system.output) if row[0] >= 0]
    problems += count_problems(system.output, jobs + 1) + workers.failures()
    latencies = [(started - sent) * 1000 for _, sent, started in rows]
    return LatencyResult(setting, latencies, idle, problems)


def idle_cpu_percent(pids: list[int], seconds: float) -> float:
    """CPU the processes (and their children) used over `seconds`, in % of one core."""
    tree = procs.descendants(pids)
    before, start = sum(procs.cpu_seconds(p) for p in tree), time.monotonic()
    time.sleep(seconds)
    used = sum(procs.cpu_seconds(p) for p in tree) - before
    return 100.0 * used / (time.monotonic() - start)


def send_spaced(system: System, jobs: int, gap: float) -> None:
    """Enqueue job n at start + n * gap; each records time.time() just before its enqueue call."""
    start = time.monotonic()
    for n in range(jobs):
        pause = start + n * gap - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        system.enqueue_one(n, time.time())


def fresh_folder(base: Path, system: str, label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{system}-{label}-", dir=base))
