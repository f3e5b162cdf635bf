"""A live HTTP server for the API tests (uvicorn on a free port, in a thread), a worker beside
it, and a second "host" (a network namespace) for calls from outside loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from errands import Errands, JobContext, WorkerConfig
from errands.web import create_app
from errands.web.events import EventHub
from tests.helpers import make_namespace, remove_namespace, serve


@dataclass
class LiveServer:
    errands: Errands
    url: str
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)



def hub_of(server: uvicorn.Server) -> EventHub:
    """The event hub of the web app a live server serves."""
    asgi = server.config.app
    assert isinstance(asgi, Starlette)
    hub = asgi.state.hub
    assert isinstance(hub, EventHub)
    return hub

def define_tasks(app: Errands) -> None:
    @app.task(name="export", public=True)
    def export(ctx: JobContext, rows: int, pause: float = 0.0) -> dict[str, int]:
        for i in range(rows):
            time.sleep(pause)
            ctx.progress(i + 1, rows, f"row {i + 1}")
        ctx.save_file("export.csv", "".join(f"{i},{i * i}\n" for i in range(rows)))
        ctx.save_file('we"ird.txt', "x")
        return {"rows": rows}

    @app.task(name="explode", public=True)
    def explode(ctx: JobContext) -> None:
        raise RuntimeError("kaboom")

    @app.task(name="internal")
    def internal(ctx: JobContext) -> None: ...


@pytest.fixture
def live(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    server, url = serve(create_app(app, poll_interval=0.02))
    yield LiveServer(app, url, server)
    server.should_exit = True
    app.close()


@pytest.fixture
def worker(live: LiveServer) -> Iterator[None]:
    running = live.errands.start_worker(WorkerConfig(concurrency=4, idle_wait=0.05))
    yield
    running.stop()


@dataclass
class RemoteHost:
    """A network namespace joined to this host by a veth pair: a caller that is not loopback."""

    address: str  # this host's address, as the namespace sees it
    namespace: str

    def run_python(self, code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.namespace, sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def remote_host() -> Iterator[RemoteHost]:
    tag = f"{os.getpid() % 100000}"
    namespace, host_side, ns_side = f"errands-{tag}", f"erh{tag}", f"ern{tag}"
    subnet = f"10.213.{os.getpid() % 250}"
    problem = make_namespace(namespace, host_side, ns_side, f"{subnet}.1", f"{subnet}.2")
    if problem is not None:
        remove_namespace(namespace, host_side)
        message = f"cannot make a network namespace ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + "; run the tests as root to enable this")
    yield RemoteHost(f"{subnet}.1", namespace)
    remove_namespace(namespace, host_side)
