"""FastAPI and Starlette: mount the errands HTTP API under a prefix, and run a worker inside the
web process for as long as the app is served (started at startup, stopped gracefully at shutdown).

`serve_beside` also puts the API next to an app that is not Starlette (Flask, Django) as one ASGI app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from ..app import Errands
from ..web import create_app
from ..worker import WorkerConfig

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]

DEFAULT_PREFIX = "/errands"


def mount(app: Starlette, errands: Errands, path: str = DEFAULT_PREFIX, **options: Any) -> None:
    """Serve the errands HTTP API under `path` of a Starlette or FastAPI app (`/errands/api/jobs`,
    `/errands/errands.js`, ...). Options are those of `errands.web.create_app`: token, auth,
    trust_loopback (turn it off behind a reverse proxy on the same host), max_body, poll_interval."""
    app.mount(path, create_app(errands, **options))


def worker_lifespan(
    errands: Errands, config: WorkerConfig | None = None, *, lifespan: Lifespan | None = None
) -> Lifespan:
    """A lifespan that runs a worker in this process while the app is served.

    At startup your own `lifespan` (if given) is entered first and the worker starts after it,
    so tasks can use what it set up. At shutdown the worker stops first: it claims nothing more,
    running jobs get `config.grace` seconds, and unfinished ones go back to the queue with their
    checkpoints; then your lifespan exits. Whatever your lifespan yields (a state dict) is passed on."""

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) if lifespan is not None else nullcontext() as state:
            # Opening (and migrating) the store blocks: keep it off the event loop.
            worker = await asyncio.to_thread(errands.start_worker, config)
            try:
                yield state
            finally:
                await asyncio.to_thread(worker.stop)

    return run


def serve_beside(
    app: ASGIApp,
    errands: Errands,
    *,
    prefix: str = DEFAULT_PREFIX,
    worker: WorkerConfig | None = None,
    **options: Any,
) -> Starlette:
    """One ASGI app: the errands API under `prefix`, every other request to `app` (Django's ASGI
    handler, a WSGI app wrapped for ASGI). With `worker`, a worker runs in this process while it
    is served. Lifespan events are handled here and never reach `app` (Django refuses them)."""
    routes = [Mount(prefix, app=create_app(errands, **options)), Mount("", app=app)]
    return Starlette(routes=routes, lifespan=None if worker is None else worker_lifespan(errands, worker))


__all__ = ["DEFAULT_PREFIX", "Lifespan", "mount", "serve_beside", "worker_lifespan"]
