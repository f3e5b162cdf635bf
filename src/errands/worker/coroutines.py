"""`async def` tasks: the event loop they share, in a thread of its own, and their runs.

Loaded when a worker first meets an async task, so that workers of plain tasks (and every command
line) start without importing asyncio.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from ..errors import JobTimeout
from ..job import Outcome
from .execution import Execution, ended_with_error, ended_with_value, timeout_message


class AsyncRunner:
    """One event loop thread running a worker's async jobs, at most `slots` at a time."""

    def __init__(self, slots: int, finish: Callable[[Execution, Outcome | None], None]) -> None:
        self._slots, self._finish = slots, finish
        self._semaphore: asyncio.Semaphore | None = None
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="errands-async", daemon=True).start()

    def submit(self, ex: Execution) -> None:
        asyncio.run_coroutine_threadsafe(self._run(ex), self._loop)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _run(self, ex: Execution) -> None:
        if self._semaphore is None:  # made on the loop's own thread
            self._semaphore = asyncio.Semaphore(self._slots)
        async with self._semaphore:  # claimed ahead of time, async jobs too wait for a slot
            outcome = await run_async(ex)
        self._finish(ex, outcome)


async def run_async(ex: Execution) -> Outcome | None:
    """Run an `async def` task on this event loop; None when there is nothing to record."""
    assert ex.task is not None
    ex.started = time.monotonic()
    if ex.ctx.interrupted is not None:  # cancelled or lost while it waited for a slot: never started
        with ex.lock:
            ex.done = True
        return ended_with_error(ex, ex.ctx.interrupted)
    with ex.lock:
        ex.async_task, ex.loop = asyncio.current_task(), asyncio.get_running_loop()
    ex.running = True
    scope = asyncio.timeout(ex.job.timeout)
    try:
        try:
            async with scope:
                value = await ex.task.fn(ex.ctx, **ex.job.args)
        finally:
            with ex.lock:
                ex.done = True
    except BaseException as exc:  # noqa: B036 - includes CancelledError raised by cancel()
        if isinstance(exc, TimeoutError) and scope.expired():  # ours, not a timeout inside the task
            exc = JobTimeout(timeout_message(ex))
        elif isinstance(exc, asyncio.CancelledError) and ex.ctx.interrupted is not None:
            exc = ex.ctx.interrupted  # cancelled by the worker: the reason it was given
        return ended_with_error(ex, exc)
    return ended_with_value(ex, value)
