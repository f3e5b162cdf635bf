"""The threads that run plain tasks: up to `size` at once, woken only as the work needs them.

Under the GIL a second thread helps a job only while the first waits outside the interpreter
(I/O, a sleep, a lock, a long job). Each thread that is runnable beside another also costs both
a hand-over of the interpreter at every system call: with ten threads on jobs of tens of
microseconds, that overhead was 40% of a worker's CPU per job. So a burst of jobs starts on one
thread, a thread that ends a job takes the next waiting one itself, and while jobs wait one idle
thread (the watch) looks at the busy ones every `look` seconds: it wakes more threads (doubling
the busy ones, up to `size`) when none of them started a job during the look (they are in long
jobs) or when the process used less than `idle_cpu` of a core (they wait rather than compute);
it lets one go back to sleep when every busy thread started an item during the look, twice as
many as there are busy threads in all, and the process kept at least `busy_cpu` of a core busy
(short jobs that compute: fewer threads do as much).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("errands.worker")

LOOK = 0.005  # seconds between looks while jobs wait for a thread: the longest a job waits behind a stuck one
IDLE_CPU = 0.5  # share of a core below which busy threads are taken to be waiting, not computing
BUSY_CPU = 0.9  # share of a core from which short jobs are taken to be computing


@dataclass(frozen=True, slots=True)
class Look:
    """What one look saw of the busy threads, over `span` seconds: how many are busy, how many
    items they started, how many of them started one, and the process's CPU seconds."""

    busy: int
    started: int
    starters: int
    cpu: float
    span: float

    def change(self, size: int, idle_cpu: float, busy_cpu: float) -> int:
        """Threads to wake (> 0) or to let sleep after their item (< 0)."""
        if self.busy == 0:
            return 0
        if self.busy < size and (not self.started or self.cpu < idle_cpu * self.span):
            return min(self.busy, size - self.busy)  # in long items, or waiting: doubling
        if (self.busy > 1 and self.starters >= self.busy and self.started >= 2 * self.busy
                and self.cpu >= busy_cpu * self.span):
            return -1  # every busy thread turns short items over, computing: one fewer does as much
        return 0


class Slots(Generic[T]):
    """`size` threads calling `run(item)` for each submitted item, in submission order."""

    def __init__(self, size: int, run: Callable[[T], None], *, look: float = LOOK, idle_cpu: float = IDLE_CPU,
                 busy_cpu: float = BUSY_CPU, name: str = "errands-slot") -> None:
        self.size = size
        self._run = run
        self._look_every = look
        self._idle_cpu = idle_cpu
        self._busy_cpu = busy_cpu
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # threads with nothing to do but the watch
        self._watch = threading.Condition(self._lock)  # the watch: told of new work, wakes to look
        self._waiting: deque[T] = deque()
        self._busy = 0
        self._wanted = 0  # idle threads asked by the last look to take a waiting item
        self._surplus = 0  # busy threads asked by the last look to sleep after their item
        self._watching = False
        self._closed = False
        self._started = 0  # items started since the last look
        self._starters = 0  # threads that started one since the last look
        self._round = 0  # counts looks (and new backlogs): a thread's first start in each is a starter
        self._mine = threading.local()  # the round of this thread's latest start
        self._last_start = 0.0  # time.monotonic() of the start that emptied the queue
        self._looked = (0.0, 0.0)  # time.monotonic() and time.process_time() of the last look
        self._threads = [threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True) for i in range(size)]

    @property
    def busy(self) -> int:
        """Threads running an item now."""
        return self._busy

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, item: T) -> None:
        with self._lock:
            if not self._waiting:  # a new backlog: the watch starts looking, from now
                now = time.monotonic()
                self._new_round(now)
                if 0 < self._busy < self.size and now - self._last_start >= self._look_every:
                    self._wanted = max(self._wanted, 1)  # the busy threads are in long jobs: no look needed
                if self._watching:
                    self._watch.notify()
                else:
                    self._idle.notify()  # none watches (its last watch took a job): an idle thread will
            self._waiting.append(item)

    def take_waiting(self) -> list[T]:
        """Remove and return the items no thread has started."""
        with self._lock:
            items = list(self._waiting)
            self._waiting.clear()
            self._wanted = self._surplus = 0
            return items

    def close(self) -> None:
        """Threads exit once their running item ends; items still waiting are never started."""
        with self._lock:
            self._closed = True
            self._idle.notify_all()
            self._watch.notify_all()

    def _serve(self) -> None:
        item = self._next(ended=False)
        while item is not None:
            try:
                self._run(item)
            except BaseException:  # noqa: BLE001 - `run` records its items' errors; the thread must live on
                log.exception("a slot thread's runner raised; the thread goes on")
            item = self._next(ended=True)

    def _next(self, *, ended: bool) -> T | None:
        with self._lock:
            if ended:
                if self._waiting and not self._closed and time.monotonic() - self._looked[0] >= self._look_every:
                    self._look(taking=1)  # busy threads look too (with all busy, none watches); counting itself
                self._busy -= 1
                if self._waiting and not self._closed:
                    if not self._surplus:
                        return self._begin()  # the cheapest hand-over is none
                    self._surplus -= 1
            while not self._closed:
                if self._waiting and (self._busy == 0 or self._wanted):
                    self._wanted = max(0, self._wanted - 1)
                    item = self._begin()
                    if self._waiting and not self._watching:
                        self._idle.notify()  # items still wait: an idle thread, if any, watches them
                    return item
                if self._watching:
                    self._idle.wait()
                    continue
                self._watching = True
                self._watch.wait(self._until_look() if self._waiting else None)
                self._watching = False
                if self._waiting and not self._closed:
                    self._look()
        return None

    def _begin(self) -> T:
        self._busy += 1
        self._started += 1
        if getattr(self._mine, "round", None) != self._round:
            self._mine.round = self._round
            self._starters += 1
        item = self._waiting.popleft()
        if not self._waiting:
            self._wanted = self._surplus = 0  # a drained backlog leaves no requests behind
            self._last_start = time.monotonic()  # read only by a submit into an empty queue: this start
        return item

    def _new_round(self, now: float) -> None:
        self._looked = (now, time.process_time())
        self._started = self._starters = 0
        self._round += 1

    def _until_look(self) -> float:
        return max(0.0, self._looked[0] + self._look_every - time.monotonic())

    def _look(self, taking: int = 0) -> None:
        """With the lock held and items waiting: ask for more threads when the busy ones leave
        the interpreter idle or are all in long jobs. A wake-up before the look is due is not one."""
        now = time.monotonic()
        then, cpu_then = self._looked
        if now - then < self._look_every:
            return
        started, starters = self._started, self._starters
        self._new_round(now)  # takes the process's CPU time
        seen = Look(self._busy, started, starters, self._looked[1] - cpu_then, now - then)
        change = seen.change(self.size, self._idle_cpu, self._busy_cpu)
        change = min(change, len(self._waiting) - taking)  # none woken for nothing
        if change > 0:
            self._surplus, self._wanted = 0, change
            if not taking:
                change -= 1  # this thread is the watch: it takes one
            elif self._watching:
                self._watch.notify()
                change -= 1
            self._idle.notify(change)
        elif change < 0:
            self._wanted, self._surplus = 0, -change
