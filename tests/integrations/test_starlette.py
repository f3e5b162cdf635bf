"""FastAPI/Starlette: the example app run by a real uvicorn process (its view enqueues, the mounted
API follows, its lifespan worker runs the job and is stopped gracefully by SIGTERM), and the
lifespan helper composed with an app's own lifespan."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from errands import Errands, JobContext, State, WorkerConfig
from errands.integrations.starlette import mount, worker_lifespan
from tests.helpers import ROOT, wait_until
from tests.integrations.live import ThreadServer, WebProcess, events_url, start_uvicorn, states_until_finished


@pytest.fixture
def store_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'errands.db'}"


def start_example(store_file: str, tmp_path: Path, name: str = "web") -> WebProcess:
    env = {"ERRANDS_URL": store_file, "ERRANDS_SECRET": "fastapi-test"}
    return start_uvicorn("examples.fastapi_app:app", env, ROOT, tmp_path / f"{name}.log")


@pytest.fixture
def web(store_file: str, tmp_path: Path) -> Iterator[WebProcess]:
    process = start_example(store_file, tmp_path)
    yield process
    process.stop_gracefully()


def test_view_enqueues_and_the_visitor_follows_the_job_to_its_file(web: WebProcess) -> None:
    with web.client() as client:
        page = client.get("/")
        assert '<script src="/errands/errands.js">' in page.text
        script = client.get("/errands/errands.js")
        assert script.status_code == 200 and "errands.follow" in script.text

        started = client.post("/exports", params={"rows": 8, "pause": 0.01}).json()
        follow = started["follow"]
        assert follow.startswith(f"/errands/api/jobs/{started['id']}?token=")

        assert states_until_finished(client, events_url(follow)) == ["queued", "running", "succeeded"]
        job = client.get(follow).json()
        assert job["state"] == "succeeded" and job["result"] == {"rows": 8}
        path, _, query = follow.partition("?")
        export = client.get(f"{path}/files/export.csv?{query}")
        assert export.text.splitlines() == [f"{i},{i * i}" for i in range(8)]


def test_the_mounted_api_knows_its_prefix(web: WebProcess) -> None:
    with web.client() as client:
        created = client.post("/errands/api/jobs", json={"task": "export_csv", "args": {"rows": 1}})
        # export_csv is not public: the API must not start it, nor reveal that it exists.
        assert created.status_code == 404
        assert client.get("/errands/api/openapi.json").json()["servers"] == [{"url": "/errands"}]
        assert client.get("/errands/healthz").json() == {"status": "ok"}
        assert client.get("/healthz").json()["up_since"] > 0  # the app's own lifespan state


def test_sigterm_releases_the_running_job_and_a_restart_finishes_it(store_file: str, tmp_path: Path) -> None:
    first = start_example(store_file, tmp_path, "first")
    with first.client() as client:
        started = client.post("/exports", params={"rows": 60, "pause": 0.05}).json()
        wait_until(lambda: (client.get(started["follow"]).json()["progress"]["current"] or 0) >= 5,
                   message="the export to be under way")
    first.stop_gracefully()

    store = Errands(store_file)
    released = store.get(started["id"])
    assert released.state is State.QUEUED  # handed back, never failed
    assert released.checkpoint["rows"] >= 5
    assert released.attempt == 0  # a release does not use up an attempt

    second = start_example(store_file, tmp_path, "second")
    try:
        done = store.wait(started["id"], timeout=30)
    finally:
        second.stop_gracefully()
    assert done.state is State.SUCCEEDED and done.result == {"rows": 60}
    assert store.file(done.id, "export.csv") == "".join(f"{i},{i * i}\n" for i in range(60)).encode()
    store.close()


def test_worker_lifespan_runs_inside_the_apps_own_lifespan(store_file: str) -> None:
    jobs = Errands(store_file)
    order: list[str] = []
    running = threading.Event()

    @jobs.task
    def wait_for_shutdown(ctx: JobContext) -> None:
        running.set()
        ctx.shutdown.wait(30)
        order.append("job told to stop")
        ctx.progress(1)  # raises WorkerShutdown: the job goes back to the queue

    @asynccontextmanager
    async def own(app: Any) -> AsyncIterator[dict[str, str]]:
        order.append("own startup")
        yield {"greeting": "hello"}
        order.append(f"own shutdown, job {jobs.get(job_id).state}")

    async def greet(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    app = Starlette(routes=[Route("/", greet)],
                    lifespan=worker_lifespan(jobs, WorkerConfig(idle_wait=0.05, grace=5), lifespan=own))
    mount(app, jobs, "/jobs")
    job_id = wait_for_shutdown.enqueue().id
    with ThreadServer(app) as server:
        assert httpx.get(server.url).text == "hello"
        assert httpx.get(f"{server.url}/jobs/api/jobs/{job_id}").json()["url"] == f"/jobs/api/jobs/{job_id}"
        assert running.wait(10)
        order.append("server stopping")
        server.stop()
    assert order == ["own startup", "server stopping", "job told to stop", "own shutdown, job queued"]
    jobs.close()
