"""The worker's threads for plain tasks (`errands.worker.slots`), with real threads.

Each rule of waking threads is tested alone: the others are switched off through the
constructor (a look period no test lasts, CPU thresholds that never or always hold).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from errands.worker.slots import Look, Slots
from tests.helpers import wait_until

NEVER = 3600.0  # a look period no test lasts: no look happens


class Recorder:
    """Runs items with `body`, noting for each the thread and how many threads were busy."""

    def __init__(self, body: Callable[[int], object] = lambda _: None) -> None:
        self.body = body
        self.lock = threading.Lock()
        self.ran: list[int] = []
        self.threads: set[int] = set()
        self.busy_at_start: list[int] = []
        self.slots: Slots[int] | None = None

    def __call__(self, item: int) -> None:
        assert self.slots is not None
        with self.lock:
            self.busy_at_start.append(self.slots.busy)
            self.threads.add(threading.get_ident())
        self.body(item)
        with self.lock:
            self.ran.append(item)

    def start(self, size: int, **options: float | str) -> Slots[int]:
        self.slots = Slots(size, self, **options)  # type: ignore[arg-type]
        self.slots.start()
        return self.slots


def test_a_burst_of_short_jobs_runs_on_one_thread_in_order() -> None:
    record = Recorder()
    slots = record.start(8, look=NEVER)
    for i in range(2000):
        slots.submit(i)
    wait_until(lambda: len(record.ran) == 2000)
    slots.close()
    assert record.ran == list(range(2000))
    assert len(record.threads) == 1 and set(record.busy_at_start) == {1}


def spin(seconds: float) -> None:
    """Compute for `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_short_jobs_that_compute_stay_on_one_thread_through_the_looks() -> None:
    # Items of 0.1 ms of CPU: every 5 ms look sees starts and a process that computes (over 5% of a
    # core, however loaded the machine), so no look wakes a second thread.
    record = Recorder(lambda _: spin(0.0001))
    slots = record.start(4, look=0.005, idle_cpu=0.05)
    for i in range(3000):
        slots.submit(i)
    wait_until(lambda: len(record.ran) == 3000)
    slots.close()
    assert len(record.threads) == 1 and set(record.busy_at_start) == {1}


def test_jobs_held_in_long_runs_bring_up_more_threads_but_never_more_than_size() -> None:
    release = threading.Event()
    record = Recorder(lambda _: release.wait(30))
    slots = record.start(4, look=0.005, idle_cpu=0.0)  # the CPU rule off: only "no job started" wakes threads
    for i in range(10):
        slots.submit(i)
    wait_until(lambda: slots.busy == 4)
    time.sleep(0.05)  # ten looks: none may wake a fifth thread
    assert slots.busy == 4 and len(record.busy_at_start) == 4
    release.set()
    wait_until(lambda: len(record.ran) == 10)
    slots.close()
    assert sorted(record.ran) == list(range(10)) and max(record.busy_at_start) == 4


def test_a_job_arriving_beside_a_long_one_starts_without_waiting_for_a_look() -> None:
    release = threading.Event()
    record = Recorder(lambda i: release.wait(30) if i == 0 else None)
    slots = record.start(2, look=5.0)
    slots.submit(0)
    wait_until(lambda: slots.busy == 1)
    time.sleep(5.1)  # item 0 has run longer than a look: its thread is taken to be in a long job
    slots.submit(1)
    wait_until(lambda: 1 in record.ran, timeout=2.5)  # the next timed look would come 5 s after the submit
    release.set()
    wait_until(lambda: len(record.ran) == 2)
    slots.close()
    assert record.busy_at_start == [1, 2]


def test_jobs_that_wait_on_io_bring_up_more_threads() -> None:
    # Each job sleeps 5 ms: several start during each 50 ms look (no stall), and the process
    # computes almost nothing, so the looks wake threads for the waiting jobs.
    record = Recorder(lambda _: time.sleep(0.005))
    slots = record.start(4, look=0.05)
    for i in range(400):
        slots.submit(i)
    wait_until(lambda: slots.busy == 4)
    slots.close()
    assert max(record.busy_at_start) == 4


def test_short_jobs_that_compute_let_the_extra_threads_sleep() -> None:
    # Four threads are brought up by four blocked jobs; then short jobs follow, and each look
    # (with busy_cpu 0: any use of the CPU counts as computing) sends one thread back to sleep.
    release = threading.Event()
    record = Recorder(lambda i: release.wait(30) if i < 4 else time.sleep(0.0002))
    slots = record.start(4, look=0.005, idle_cpu=0.0, busy_cpu=0.0)
    for i in range(4):
        slots.submit(i)
    wait_until(lambda: slots.busy == 4)
    for i in range(4, 3004):
        slots.submit(i)
    release.set()
    wait_until(lambda: len(record.ran) == 3004)
    slots.close()
    assert max(record.busy_at_start) == 4 and record.busy_at_start[-500:] == [1] * 500


def test_close_hands_back_what_never_started_and_ends_the_threads() -> None:
    release = threading.Event()
    record = Recorder(lambda _: release.wait(30))
    slots = record.start(2, look=NEVER, name="closing-slot")
    for i in range(5):
        slots.submit(i)
    wait_until(lambda: slots.busy == 1)
    assert slots.take_waiting() == [1, 2, 3, 4]
    slots.close()
    release.set()
    threads = [t for t in threading.enumerate() if t.name.startswith("closing-slot-")]
    for thread in threads:
        thread.join(5)
    assert record.ran == [0] and not any(t.is_alive() for t in threads)


def test_a_runner_that_raises_leaves_its_thread_serving() -> None:
    def body(i: int) -> None:
        if i == 0:
            raise RuntimeError("a bug in the runner")

    record = Recorder(body)
    slots = record.start(1, look=NEVER)
    for i in range(3):
        slots.submit(i)
    wait_until(lambda: record.ran == [1, 2])
    wait_until(lambda: slots.busy == 0)
    slots.close()


@pytest.mark.parametrize(
    ("look", "change"),
    [
        (Look(busy=0, started=0, starters=0, cpu=0.0, span=0.005), 0),  # nothing runs: nothing to judge
        (Look(busy=1, started=0, starters=0, cpu=0.005, span=0.005), 1),  # in one long item: one more
        (Look(busy=3, started=0, starters=0, cpu=0.005, span=0.005), 3),  # doubling
        (Look(busy=6, started=0, starters=0, cpu=0.005, span=0.005), 2),  # up to size (8)
        (Look(busy=8, started=0, starters=0, cpu=0.0, span=0.005), 0),  # every thread busy already
        (Look(busy=2, started=40, starters=2, cpu=0.0005, span=0.005), 2),  # short items that wait on I/O
        (Look(busy=1, started=70, starters=1, cpu=0.005, span=0.005), 0),  # one thread computing: right
        (Look(busy=4, started=70, starters=4, cpu=0.005, span=0.005), -1),  # four computing: one sleeps
        (Look(busy=4, started=70, starters=4, cpu=0.003, span=0.005), 0),  # a core not kept busy: stay
        (Look(busy=2, started=70, starters=1, cpu=0.005, span=0.005), 0),  # one is in a long item: stay
        (Look(busy=4, started=5, starters=4, cpu=0.005, span=0.005), 0),  # items not that short: stay
    ],
)
def test_what_a_look_decides(look: Look, change: int) -> None:
    assert look.change(size=8, idle_cpu=0.25, busy_cpu=0.9) == change
