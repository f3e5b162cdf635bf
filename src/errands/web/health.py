"""`/healthz`: whether the store answers a real read and would take a write, within a deadline.

The probe runs in a thread; a store that hangs makes the answer 503 after the deadline, and
later requests share the probe still running instead of piling up threads behind it.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse, Response

from ..stores.base import Store


class Health:
    def __init__(self, store: Store, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self._probe: asyncio.Future[None] | None = None

    async def response(self) -> Response:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(asyncio.to_thread(self.store.check_health))
            self._probe.add_done_callback(lambda probe: probe.cancelled() or probe.exception())  # seen, not logged
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), self.timeout)
        except TimeoutError:
            return unhealthy(f"the store did not answer within {self.timeout:g}s")
        except Exception as exc:  # any failure of the probe means unhealthy
            return unhealthy(str(exc) or type(exc).__name__)
        return JSONResponse({"status": "ok"})


def unhealthy(reason: str) -> Response:
    return JSONResponse({"status": "unavailable", "store": reason}, status_code=503)
