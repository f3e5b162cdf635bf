"""Bulk actions by filter: retry, cancel or delete every job matching a filter, run by the
server in chunks (one transaction each) while its page shows the progress.

Runs live in this process's memory (the newest `KEPT` are kept); one that a restart interrupts
is simply started again from the dashboard: every change is conditional on the job's state.
Jobs enqueued after the start are never touched (the run covers ids below the newest at start).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ...errors import ErrandsError
from ...stores.base import Store
from ...stores.dashboard import BulkAction, JobFilter, act_on_chunk

log = logging.getLogger("errands.web")
KEPT = 50


@dataclass
class BulkRun:
    id: str
    action: BulkAction
    filter: JobFilter
    params: dict[str, Any]  # the jobs page's query, to link back to it
    top: int  # ids below this are covered
    cursor: int | None  # the next chunk looks below this id; None when done
    matched: int = 0
    changed: int = 0
    chunks: int = 0
    error: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None

    @property
    def done(self) -> bool:
        return self.cursor is None or self.error is not None

    @property
    def fraction(self) -> float:
        """How much of the id range it has gone through."""
        if self.cursor is None:
            return 1.0
        return 0.0 if self.top <= 1 else min(max((self.top - self.cursor) / self.top, 0.0), 1.0)


class BulkRunner:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs: dict[str, BulkRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, action: BulkAction, f: JobFilter, params: dict[str, Any], top: int) -> BulkRun:
        run = BulkRun(secrets.token_hex(8), action, f, params, top, top)
        self.runs[run.id] = run
        for old in list(self.runs)[:-KEPT]:
            if self.runs[old].done:
                del self.runs[old]
        task = asyncio.get_running_loop().create_task(self._run(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _run(self, run: BulkRun) -> None:
        while run.cursor is not None:
            try:
                chunk = await asyncio.to_thread(act_on_chunk, self.store, run.action, run.filter, run.cursor)
            except ErrandsError as exc:
                log.warning("bulk %s stopped: %s", run.action.value, exc)
                run.error = str(exc)
                break
            run.matched += chunk.matched
            run.changed += chunk.changed
            run.chunks += 1
            run.cursor = chunk.next_before
        run.ended = time.time()
