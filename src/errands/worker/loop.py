"""The worker: claims jobs while it has free slots, runs them, and stops gracefully.

Policy lives elsewhere: how a run ends (`execution`), recording outcomes
(`settle`), timeouts, leases and maintenance (`supervisor`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..backoff import pauses
from ..context import JobContext
from ..errors import StoreError, UnknownTask, WorkerShutdown
from ..job import Job, JobError, Outcome, State
from ..maintenance import Maintenance
from ..settings import Settings
from ..stores.base import ChangeWatcher, Readiness, Store, WorkerInfo
from ..stores.flow import Key, Limits
from ..task import Task
from .config import WorkerConfig
from .execution import Execution, run_sync
from .settle import Settler
from .slots import Slots
from .supervisor import Supervisor

if TYPE_CHECKING:
    from .coroutines import AsyncRunner

log = logging.getLogger("errands.worker")

SHORT_JOB = 0.05  # seconds: below this typical run time a worker claims ahead of its free slots
CLAIM_AHEAD = 0.1  # seconds of work, at the typical run time, a worker holds beyond its slots
MAX_AHEAD = 1000  # jobs a worker holds beyond its slots, at most
BURST_RECHECK = 0.05  # seconds a burst worker waits when due jobs are locked by other workers' claims
UNKNOWN_TASK_WAIT = 60.0  # seconds a job this worker cannot run waits before it is claimable again


ENDED = {State.SCHEDULED: "failed, will retry", State.QUEUED: "released to the queue"}  # else the state's name


def _how_it_ended(outcome: Outcome) -> tuple[str, str, str]:
    """The task, the end and its run time, and the attempt when not the first, for a log line."""
    task = "" if outcome.task is None else f"{outcome.task} "
    ended = ENDED.get(outcome.state, outcome.state.value)
    runtime = outcome.runtime
    if runtime is not None and outcome.state is not State.QUEUED:
        ended += f" in {runtime * 1000:.{2 if runtime < 0.01 else 1}f} ms" if runtime < 1 else f" in {runtime:.2f} s"
    attempt = "" if outcome.attempt is None or outcome.attempt == 1 else f" (attempt {outcome.attempt})"
    return task, ended, attempt


def unknown_task(ex: Execution) -> Outcome:
    """A job of a task this worker does not know goes back to wait for one that does; the
    attempt does not count and nothing fails (a mixed fleet's jobs are never burnt)."""
    message = f"worker {ex.job.lease_owner} does not know task {ex.job.task!r}; released for one that does"
    error = JobError(UnknownTask.__name__, message)
    return Outcome(ex.job.id, ex.token, State.SCHEDULED, error=error, retry_in=UNKNOWN_TASK_WAIT,
                   released=True, task=ex.job.task, runtime=0.0)


class Worker:
    """Runs jobs of `registry`'s tasks from `store`. `run()` blocks until stopped; `start()` runs it
    in background threads and returns; `stop()` shuts down gracefully from any thread."""

    def __init__(self, store: Store, registry: Mapping[str, Task], settings: Settings, config: WorkerConfig,
                 queue_limits: Mapping[str, Limits] | None = None) -> None:
        self.registry = registry
        # The limits this code declares, written to the store at start (the newest declaration wins).
        self.limits: dict[Key, Limits] = {("task", n): Limits(t.options.concurrency, t.options.rate)
                                          for n, t in registry.items()}
        self.limits |= {("queue", q): lim for q, lim in (queue_limits or {}).items()}
        self._opens_in: float | None = None  # when a full rate limit the last claim met lets a start through
        self.settings = settings
        self.config = config
        self.store = store
        prefix = config.name or f"{socket.gethostname()}-{os.getpid()}"
        self.id = f"{prefix}-{secrets.token_hex(3)}"
        self._running: dict[int, Execution] = {}
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._release_now = threading.Event()
        self._slots = Slots(config.concurrency, self._run_plain)  # threads for plain tasks
        self._async: AsyncRunner | None = None  # made for the first async task
        self._thread: threading.Thread | None = None
        self._watcher: ChangeWatcher | None = None
        self._typical_runtime: float | None = None  # moving average of recent run times
        # The tasks this worker claims: those its app knew when it started (notifications included).
        # A job of any other task is left for a worker that knows it, never failed here.
        self.tasks = tuple(sorted(registry))
        self.settler = Settler(self.store, self._settled, self._maybe_done)
        self.maintenance = Maintenance(self.store, self.id, settings, config.maintenance_interval)
        self.supervisor = Supervisor(
            self.store,
            self.id,
            self.running,
            self.maintenance,
            config.heartbeat_interval,
            settings.progress_interval,
        )

    def running(self) -> list[Execution]:
        with self._lock:
            return list(self._running.values())

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self.run, name="errands-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, now: bool = False, timeout: float | None = None) -> None:
        """Stop claiming, let running jobs finish within the grace period, release the
        rest to the queue with their checkpoints. `now` releases at once."""
        self.request_stop(now=now)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def request_stop(self, *, now: bool = False) -> None:
        if now:
            self._release_now.set()
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.poke()
        with self._lock:
            self._slot_freed.notify_all()

    def run(self) -> None:
        info = WorkerInfo(self.id, socket.gethostname(), os.getpid(), self.config.queues, self.config.concurrency,
                          tasks=self.tasks)
        self._retry_store("register the worker", lambda: self.store.register_worker(info, self.limits))
        log.info(
            "worker %s started: queues=%s concurrency=%d",
            self.id,
            ",".join(self.config.queues) or "*",
            self.config.concurrency,
        )
        self._slots.start()
        self.settler.start()
        self.supervisor.start()
        try:
            self._claim_loop()
        finally:
            self._shut_down()

    def _retry_store(self, what: str, write: Callable[[], None]) -> None:
        """Retry a store call with backoff until it succeeds or the worker is stopped."""
        for delay in pauses(0.05, 5.0):
            try:
                return write()
            except StoreError as exc:
                if self._stopping.is_set():
                    raise
                log.warning("could not %s, retrying in %.2fs: %s", what, delay, exc)
                self._stopping.wait(delay)

    # -- claiming ---------------------------------------------------------------

    def _claim_loop(self) -> None:
        watcher = self._watcher = self.store.watch()
        delays = pauses(0.05, 5.0)
        idle = announced = False
        try:
            while not self._stopping.is_set():
                free = self._wait_for_room()
                if not free:
                    continue
                try:
                    # Woken from idle by some commit: look before taking the write lock, so idle
                    # workers do not all queue for the lock on every commit anywhere; a watcher
                    # that announces claimable jobs (PostgreSQL's NOTIFY) needs no look.
                    ready = not idle or announced or self.store.ready(self.config.queues, self.tasks).due
                    jobs = self._settle_and_claim(free) if ready else []
                    delays = pauses(0.05, 5.0)
                except StoreError as exc:
                    delay = next(delays)
                    log.warning("claim failed, retrying in %.2fs: %s", delay, exc)
                    self._stopping.wait(delay)
                    continue
                for job in jobs:
                    self._dispatch(job)
                idle = not jobs
                # A claim that got fewer jobs than it asked for took every due job it could see: the
                # next one waits for a wake-up. Claiming again at once finds nothing, and its Python
                # holds the interpreter while the jobs just started wait for it (~0.5 ms each).
                # A burst worker claims again to learn whether it is done.
                if jobs and (len(jobs) == free or self.config.burst):
                    continue
                wait = min(self.config.idle_wait, self._opens_in or self.config.idle_wait)
                if self.config.burst:
                    readiness = self._idle()
                    if readiness is None:
                        log.info("worker %s: nothing left to do (burst)", self.id)
                        return
                    if readiness.due:  # locked by another worker's claim in flight: it ends soon
                        wait = min(wait, BURST_RECHECK)
                woken = watcher.wait(wait)
                announced = woken and watcher.announces_jobs
        finally:
            watcher.close()

    def _settle_and_claim(self, limit: int) -> list[Job]:
        """Claim, recording in the same commit whatever outcomes wait for the settler."""
        outcomes = self.settler.take()
        try:
            claim = self.store.claim(self.id, self.config.queues, limit, self.tasks, settle=outcomes)
        except BaseException:
            self.settler.give_back(outcomes)
            raise
        self.settler.recorded(outcomes, claim.accepted)
        self._opens_in = claim.opens_in
        return claim.jobs

    def _ahead(self) -> int:
        """Jobs this worker may hold beyond its slots, waiting their turn: none while recent jobs
        are long (or unknown), so long jobs go to whichever worker has a free slot; for short jobs
        as many as the slots get through in CLAIM_AHEAD, at most MAX_AHEAD. One claim then feeds
        the slots for a while, where claiming only the slots that happen to be free costs a commit
        for every few jobs, and no job waits here much longer than CLAIM_AHEAD while another
        worker might have run it. Jobs held are leased: the heartbeat renews them all, waiting or not."""
        typical = self._typical_runtime
        if typical is None or typical >= SHORT_JOB:
            return 0
        return min(MAX_AHEAD, int(self.config.concurrency * CLAIM_AHEAD / max(typical, 1e-5)))

    def _room(self) -> int:
        """How many jobs to claim now (0: wait), with the lock held. A claim is worth its commit
        when a slot is idle, or when half the jobs held ahead have started: so claims are big."""
        held = len(self._running)
        ahead = self._ahead()
        room = self.config.concurrency + ahead - held
        return room if held < self.config.concurrency or room >= max(1, ahead // 2) else 0

    def _wait_for_room(self) -> int:
        with self._lock:
            while not (room := self._room()) and not self._stopping.is_set():
                self._slot_freed.wait(0.5)
            return 0 if self._stopping.is_set() else room

    def _idle(self) -> Readiness | None:
        """None when nothing runs here, every outcome is recorded, and no job is due or awaits its
        retry; else what is left (nothing due when this worker's own work is what is left)."""
        with self._lock:
            busy = bool(self._running)
        if busy or not self.settler.wait_idle(0):
            return Readiness(False, 0)
        readiness = self.store.ready(self.config.queues, self.tasks, retrying=True)
        return None if not readiness.retrying and not readiness.due else readiness

    # -- running --------------------------------------------------------------------

    def _dispatch(self, job: Job) -> None:
        task = self.registry.get(job.task)
        ex = Execution(job, task, JobContext(job, self.store, self.settings))
        with self._lock:
            self._running[job.id] = ex
        log.debug("job %s %s started (attempt %d)", job.id, job.task, job.attempt)
        if task is None:  # claims ask only for known tasks: reached only through a store that ignored them
            self._finish(ex, unknown_task(ex))
        elif task.is_async:
            self._async_runner().submit(ex)
        else:
            self._slots.submit(ex)

    def _run_plain(self, ex: Execution) -> None:
        self._finish(ex, run_sync(ex))

    def _async_runner(self) -> AsyncRunner:
        if self._async is None:
            from .coroutines import AsyncRunner

            self._async = AsyncRunner(self.config.concurrency, self._finish)
        return self._async

    def _finish(self, ex: Execution, outcome: Outcome | None) -> None:
        runtime = time.monotonic() - ex.started
        typical = self._typical_runtime
        self._typical_runtime = runtime if typical is None else typical * 0.9 + runtime * 0.1
        activity = ex.ctx.pending_activity()
        if activity is not None and activity.logs and not ex.abandoned:
            try:
                self.store.save_activity([activity])
            except Exception as exc:  # an outage or a refused value: the outcome below matters more
                log.warning("job %s: last log lines not saved: %s", ex.job.id, exc)
        # The outcome is handed on before the job leaves the running table: a burst worker
        # checking whether it is done must see the job in one place or the other.
        if outcome is None:
            log.warning("job %s %s: result discarded (this worker lost its lease)", ex.job.id, ex.job.task)
        elif not ex.abandoned:
            self.settler.submit(outcome)
        with self._lock:
            if self._running.get(ex.job.id) is ex:
                del self._running[ex.job.id]
            if self._room():  # wake the claim loop only when a claim is due (not on every job)
                self._slot_freed.notify_all()
            last = not self._running
        if last:
            self._maybe_done()

    def _maybe_done(self) -> None:
        """A burst worker may be done when its last job ends and when its last outcome is recorded
        (whichever comes second): its claim loop looks now, not after idle_wait."""
        if self.config.burst and self._watcher is not None and not self._running:
            self._watcher.poke()

    def _settled(self, outcomes: list[Outcome], accepted: list[bool]) -> None:
        """One line per recorded outcome, once its batch is committed: INFO for a job that ended
        well ("job 12 export succeeded in 3.1 ms"), WARNING for errors and refused outcomes."""
        info = log.isEnabledFor(logging.INFO)
        for outcome, ok in zip(outcomes, accepted, strict=True):
            if not ok:
                message = "job %s: outcome %s refused: lease lost, another worker owns the job now"
                log.warning(message, outcome.job_id, outcome.state.value)
            elif outcome.error is not None:
                verb = ENDED.get(outcome.state, outcome.state.value)
                log.warning("job %s %s: %s: %s", outcome.job_id, verb, outcome.error.type, outcome.error.message)
            elif info:  # a record made directly: logging's search of the stack for the caller costs a third
                log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "job %s %s%s%s",
                                          (outcome.job_id, *_how_it_ended(outcome)), None, "_settled"))

    # -- shutdown ---------------------------------------------------------------------

    def _shut_down(self) -> None:
        self._release_unstarted()
        running = self.running()
        if running:
            log.info("worker %s stopping: %d job(s) running, grace %gs", self.id, len(running), self.config.grace)
        for ex in running:
            ex.ctx.shutdown.set()
            ex.interrupt(WorkerShutdown(f"worker {self.id} is shutting down"))
        deadline = time.monotonic() + self.config.grace
        with self._lock:
            while self._running and time.monotonic() < deadline and not self._release_now.is_set():
                self._slot_freed.wait(0.1)
        for ex in self.running():
            self._release(ex)
        self._slots.close()
        self.settler.wait_idle(10)
        self.settler.close(5)
        self.supervisor.stop()
        self.maintenance.resign()
        if self._async is not None:
            self._async.stop()
        try:
            self.store.deregister_worker(self.id)
        except StoreError as exc:
            log.warning("could not deregister worker %s: %s", self.id, exc)
        log.info("worker %s stopped", self.id)

    def _release_unstarted(self) -> None:
        """Claimed jobs still waiting for a thread go back to the queue at once."""
        for ex in self._slots.take_waiting():
            self._release(ex)

    def _release(self, ex: Execution) -> None:
        """Hand an unfinished job back to the queue, checkpoint kept; its late outcome is dropped."""
        ex.abandoned = True
        ex.interrupt(WorkerShutdown("grace period over"), force=True)
        with self._lock:
            self._running.pop(ex.job.id, None)
        self.settler.submit(Outcome(ex.job.id, ex.token, State.QUEUED, progress=ex.ctx.last_progress, released=True))
