"""What a running task sees: its job's identity, progress, checkpoint, files and logs.

Every write here is fenced by the job's lease token, so a copy of the task
that lost its lease cannot overwrite the copy that took over.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import numbers
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backoff import pauses
from .codec import to_json
from .errors import BadArguments, JobCancelled, JobInterrupt, LeaseLost, StoreError
from .job import Job, Progress
from .stores.base import Activity
from .text import capped, describe, storable

if TYPE_CHECKING:
    from .settings import Settings
    from .stores.base import Store

log = logging.getLogger("errands.task")

MAX_FILE_NAME = 255  # characters, as most file systems allow


def _progress_number(value: object, what: str) -> Any:
    """A finite number every store can hold (an int past 2**53 becomes a float), or BadArguments."""
    if value is None:
        return None
    if not isinstance(value, numbers.Real):
        raise BadArguments(f"progress {what} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.inf
    if not math.isfinite(number):
        raise BadArguments(f"progress {what} must be a finite number, got {capped(describe(value), 100)}")
    return int(value) if isinstance(value, numbers.Integral) and abs(number) < 2**53 else number


class JobContext:
    """Handed to a task as its first argument. Not shared between jobs.

    `shutdown` is set when the worker is stopping: a long task should save a
    checkpoint and return soon (or let the next `progress` call raise).
    `cancelled` is set when someone cancelled the job."""

    def __init__(self, job: Job, store: Store, settings: Settings) -> None:
        self.job = job
        self.job_id = job.id
        self.attempt = job.attempt
        self.checkpoint: Any = job.checkpoint
        self._shutdown: threading.Event | None = None  # made when first asked for: most jobs never look
        self._cancelled: threading.Event | None = None
        self._store = store
        self.settings = settings
        self._token = job.lease_token or ""
        self._progress: Progress | None = None
        self._progress_dirty = False
        self._logs: list[str] = []
        self._log_lines = 0  # lines logged by this run, kept or not
        self._checkpoints = 0  # checkpoints saved by this run
        self._checkpoint_event_at = -1e9  # monotonic time of the last checkpoint event
        self._files: dict[str, int] | None = None  # the job's stored files (name -> size), read once
        self._interrupt: JobInterrupt | None = None
        self._lock = threading.Lock()
        self._files_lock = threading.Lock()

    @property
    def scheduled_for(self) -> datetime | None:
        """The fire time of a periodic job (UTC), else None."""
        return self.job.scheduled_for

    @property
    def shutdown(self) -> threading.Event:
        """Set when the worker is stopping."""
        return self._shutdown or self._make_events()[0]

    @property
    def cancelled(self) -> threading.Event:
        """Set when someone cancelled the job."""
        return self._cancelled or self._make_events()[1]

    def _make_events(self) -> tuple[threading.Event, threading.Event]:
        with self._lock:  # the task's thread and the worker's may ask at once: both get the same events
            if self._shutdown is None or self._cancelled is None:
                self._shutdown, self._cancelled = threading.Event(), threading.Event()
            return self._shutdown, self._cancelled

    @property
    def parent_result(self) -> Any:
        """The result of the job this one continues (`after=` / `job.then`), else None."""
        if self.job.parent_id is None:
            return None
        return self._store.get(self.job.parent_id).result

    # -- called by the task --------------------------------------------------

    def progress(self, current: float, total: float | None = None, message: str | None = None) -> None:
        """Report progress. Cheap in a tight loop: the worker writes the latest value at
        most once per `progress_interval`. Raises JobCancelled (or another JobInterrupt)
        when the job must stop."""
        self.raise_if_interrupted()
        if message is not None:
            message = capped(describe(message), self.settings.max_text_bytes)
        self._progress = Progress(_progress_number(current, "current"), _progress_number(total, "total"), message)
        self._progress_dirty = True

    def save_checkpoint(self, state: Any) -> None:
        """Durably record resumable state; a later attempt finds it in `ctx.checkpoint`.
        A store blip is retried; raises LeaseLost when another worker owns the job now.
        Every call writes the state, but the job's timeline gets at most one `checkpoint`
        event per `progress_interval` (its `count` says how many this run has saved)."""
        self.raise_if_interrupted()
        text = to_json(state, "a checkpoint", self.settings.max_result_bytes)
        now = time.monotonic()
        count = self._checkpoints + 1
        announce = now - self._checkpoint_event_at >= self.settings.progress_interval
        if not self._persist(
            lambda: self._store.save_checkpoint(self.job_id, self._token, text, announce=announce, count=count)
        ):
            self.interrupt(LeaseLost(f"job {self.job_id}: lease lost; checkpoint refused"))
            self.raise_if_interrupted()
        self._checkpoints = count
        if announce:
            self._checkpoint_event_at = now
        self.checkpoint = state

    def _persist(self, write: Callable[[], bool]) -> bool:
        """Run a fenced write, retrying store errors with backoff for as long as the lease
        could still be ours; past that the job is presumed taken over (False)."""
        give_up = time.monotonic() + self.job.lease_seconds
        for delay in pauses(0.05, 2.0):
            try:
                return write()
            except StoreError as exc:
                if time.monotonic() + delay > give_up:
                    return False
                log.warning("job %s: store write failed, retrying in %.2fs: %s", self.job_id, delay, exc)
                time.sleep(delay)
        raise AssertionError("unreachable: pauses() never ends")

    def save_file(self, name: str, data: bytes | str | Path, content_type: str | None = None) -> None:
        """Store a result file (bytes, text, or the path of a file to read). Saving a name
        again replaces that file. Raises BadArguments past the job's limits: `max_file_bytes`
        for one file, `max_files` files and `max_files_bytes` in all."""
        if isinstance(data, Path):
            data = data.read_bytes()
        elif isinstance(data, str):
            data = data.encode()
        if (not isinstance(name, str) or not name or "/" in name or name in (".", "..") or len(name) > MAX_FILE_NAME
                or storable(name) != name):
            shown = capped(describe(name), 200)
            raise BadArguments(
                f"file name {shown!r}: give a plain name like 'export.csv' (at most {MAX_FILE_NAME} characters, no NUL)"
            )
        if len(data) > self.settings.max_file_bytes:
            raise BadArguments(
                f"file {name!r} is {len(data):,} bytes, over the limit of {self.settings.max_file_bytes:,}"
            )
        kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with self._files_lock:  # one file at a time: the limits count what is stored
            self._check_file_limits(name, len(data))
            if not self._persist(lambda: self._store.save_file(self.job_id, self._token, name, kind, bytes(data))):
                self.interrupt(LeaseLost(f"job {self.job_id}: lease lost; file {name!r} refused"))
                self.raise_if_interrupted()
            assert self._files is not None
            self._files[name] = len(data)

    def _check_file_limits(self, name: str, size: int) -> None:
        if self._files is None:  # files an earlier run of this job saved count too
            self._files = {f.name: f.size for f in self._store.files(self.job_id)}
        others = {k: v for k, v in self._files.items() if k != name}  # saving a name again replaces it
        if len(others) >= self.settings.max_files:
            raise BadArguments(
                f"file {name!r} refused: job {self.job_id} already has {len(others)} files, "
                f"the limit (ERRANDS_MAX_FILES) is {self.settings.max_files}"
            )
        total = sum(others.values()) + size
        if total > self.settings.max_files_bytes:
            raise BadArguments(
                f"file {name!r} refused: the job's files would take {total:,} bytes, over the limit "
                f"(ERRANDS_MAX_FILES_BYTES) of {self.settings.max_files_bytes:,}"
            )

    def log(self, message: str) -> None:
        """A line kept on the job's history (shown by `errands status`), capped at
        `max_text_bytes`. A run keeps its first `max_log_lines` lines, then one line saying
        the log was truncated; later lines are dropped (from the worker's own log too)."""
        limit = self.settings.max_log_lines
        with self._lock:
            self._log_lines += 1
            count = self._log_lines
            if count <= limit:
                line = capped(describe(message), self.settings.max_text_bytes)
            elif count == limit + 1:
                line = (f"log truncated: this run logged more than {limit} lines (ERRANDS_MAX_LOG_LINES); "
                        "later lines are not kept")
            else:
                return
            self._logs.append(line)
        log.info("job %s: %s", self.job_id, line)

    # -- called by the worker ------------------------------------------------

    def interrupt(self, reason: JobInterrupt) -> None:
        """Ask the task to stop: the next progress/checkpoint call raises `reason`."""
        if self._interrupt is None:
            self._interrupt = reason
        if isinstance(reason, JobCancelled):
            self.cancelled.set()

    @property
    def interrupted(self) -> JobInterrupt | None:
        return self._interrupt

    def raise_if_interrupted(self) -> None:
        if self._interrupt is not None:
            raise self._interrupt

    @property
    def last_progress(self) -> Progress | None:
        return self._progress

    def pending_activity(self) -> Activity | None:
        if not self._progress_dirty and not self._logs:  # the usual case: nothing to write
            return None
        with self._lock:
            logs, self._logs = tuple(self._logs), []
        progress = self._progress if self._progress_dirty else None
        self._progress_dirty = False
        if progress is None and not logs:
            return None
        return Activity(self.job_id, self._token, progress, logs)

    def restore_activity(self, activity: Activity) -> None:
        """Put back what `pending_activity` took when writing it failed; the next round retries."""
        with self._lock:
            self._logs[:0] = activity.logs
        if activity.progress is not None:
            self._progress_dirty = True
