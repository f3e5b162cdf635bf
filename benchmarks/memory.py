"""Worker memory and steady-state CPU: one worker process works through many jobs; its resident
memory (VmRSS) and CPU time are read when half of them and all of them have run."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from benchmarks import procs
from benchmarks.systems import Setting
from benchmarks.workloads import Factory, count_problems, lines_written, wait_for

MB = 1024 * 1024


@dataclass
class Mark:
    jobs: int  # lines written when read
    rss_bytes: int  # of the worker process and its children, if any
    cpu_seconds: float  # since the process started


@dataclass
class MemoryResult:
    setting: Setting
    marks: list[Mark] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rss_mb(self) -> list[float]:
        return [m.rss_bytes / MB for m in self.marks]

    @property
    def steady_cpu_us_per_job(self) -> float:
        """CPU per job between the two marks: start-up and the first half excluded."""
        if len(self.marks) < 2:
            return float("nan")
        first, last = self.marks[0], self.marks[-1]
        return 1e6 * (last.cpu_seconds - first.cpu_seconds) / max(1, last.jobs - first.jobs)


def reached(output: Path, lines: int) -> bool:
    return lines_written(output) >= lines


def one_worker(setting: Setting) -> Setting:
    """The same setting with one worker process instead of two."""
    label = setting.label.removeprefix("2 × ")
    return Setting(f"1 × {label}", setting.commands[:1], setting.shape, setting.concurrency, setting.exits_when_done)


def worker_memory(new: Factory, setting: Setting, jobs: int) -> MemoryResult:
    """Enqueue `jobs` (one bulk call), run them with one worker process, read its memory at half and at all."""
    system = new("memory")
    system.enqueue_bulk(range(jobs))
    system.close()
    setting = one_worker(setting)
    result = MemoryResult(setting)
    workers = procs.start(setting.commands, system.env, system.folder)
    try:
        for mark in (jobs // 2, jobs):
            if not wait_for(partial(reached, system.output, mark), max(60.0, jobs / 50), interval=0.01):
                result.problems.append(f"timed out waiting for {mark:,} lines")
                break
            tree = procs.descendants(workers.pids)
            rss = sum(procs.rss_bytes(pid) for pid in tree)
            result.marks.append(Mark(lines_written(system.output), rss, procs.tree_cpu_seconds(workers.pids)))
        workers.wait(60.0)
    finally:
        workers.stop()
    result.problems += count_problems(system.output, jobs) + system.check_drained(jobs) + workers.failures()
    system.close()
    return result
