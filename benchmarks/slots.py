"""The worker's slot threads (`errands.worker.slots.Slots`) against a plain pool of as many threads all
waiting on one queue (what errands' workers did before): jobs/s, CPU per job and the most threads
busy at once, for job bodies that compute briefly, wait briefly or long, and compute long.

`.venv/bin/python benchmarks/slots.py [--size 10]` prints a markdown table. One process, no store:
only the threads' hand-overs are measured. On a quiet machine: the CPU rules read the process's
share of a core.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `errands` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from errands.worker.slots import Slots  # noqa: E402


class PlainPool:
    """`size` threads, each taking the next item from one queue as soon as it is free."""

    def __init__(self, size: int, run: Callable[[int], None]) -> None:
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._run = run
        self._busy = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._serve, daemon=True) for _ in range(size)]

    @property
    def busy(self) -> int:
        return self._busy

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, item: int) -> None:
        self._queue.put(item)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            with self._lock:
                self._busy += 1
            self._run(item)
            with self._lock:
                self._busy -= 1


def compute(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def bodies(folder: Path) -> dict[str, tuple[Callable[[], None], int]]:
    """Job bodies by label, with how many jobs each run has."""
    path = folder / "lines.txt"

    def append_line() -> None:  # the benchmarks' no-op job
        with open(path, "a") as out:
            out.write("x\n")

    return {
        "append a line to a file": (append_line, 20_000),
        "compute 2 ms": (lambda: compute(0.002), 500),
        "sleep 0.05 ms (wait briefly)": (lambda: time.sleep(0.00005), 20_000),
        "sleep 0.2 ms": (lambda: time.sleep(0.0002), 20_000),
        "sleep 1 ms": (lambda: time.sleep(0.001), 5_000),
        "sleep 20 ms (wait long)": (lambda: time.sleep(0.02), 500),
    }


def measure(kind: str, size: int, body: Callable[[], None], jobs: int) -> tuple[float, float, int]:
    """Jobs/s, CPU µs per job (the whole process) and the most threads busy at once."""
    done = threading.Event()
    ran = [0]
    peak = [0]
    lock = threading.Lock()
    pool: Slots[int] | PlainPool

    def run(_: int) -> None:
        peak[0] = max(peak[0], pool.busy)
        body()
        with lock:
            ran[0] += 1
            if ran[0] == jobs:
                done.set()

    pool = Slots(size, run) if kind == "slots" else PlainPool(size, run)
    pool.start()
    time.sleep(0.05)  # every thread waiting
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(jobs):
        pool.submit(n)
    done.wait()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    pool.close()
    return jobs / seconds, 1e6 * cpu / jobs, peak[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="slot threads against a plain pool of the same size")
    parser.add_argument("--size", type=int, default=10, help="threads (a worker's --concurrency; default 10)")
    args = parser.parse_args(argv)
    print(f"Threads: {args.size}; load average before: {os.getloadavg()[0]:.2f}\n")
    print("| job body | slots jobs/s | plain pool jobs/s | ratio | slots CPU/job | plain CPU/job"
          " | most busy (slots / plain) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for label, (body, jobs) in bodies(Path(folder)).items():
            slots = measure("slots", args.size, body, jobs)
            plain = measure("plain", args.size, body, jobs)
            print(f"| {label} ({jobs:,} jobs) | {slots[0]:,.0f} | {plain[0]:,.0f} | {slots[0] / plain[0]:.2f}× "
                  f"| {slots[1]:.1f} µs | {plain[1]:.1f} µs | {slots[2]} / {plain[2]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
