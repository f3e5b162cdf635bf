"""Flask: the example app served with the API beside it by a real uvicorn process, its jobs run by
`flask errands worker` (another process, stopped by SIGTERM); and the extension's config, app
context and follow tokens checked through a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, current_app

from errands import Errands, JobContext, State, WorkerConfig
from errands.integrations.flask import FlaskErrands, serve_with_api
from tests.helpers import ROOT, wait_until
from tests.integrations.live import (
    Child,
    ThreadServer,
    WebProcess,
    events_url,
    spawn,
    start_uvicorn,
    states_until_finished,
)


@pytest.fixture
def store_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'errands.db'}"


def flask_env(store_file: str) -> dict[str, str]:
    # The example reads FLASK_-prefixed variables into app.config; ERRANDS_URL stays unset, so
    # only the Flask config can point the app at this store.
    return {"FLASK_ERRANDS_URL": store_file, "FLASK_SECRET_KEY": "flask-test", "ERRANDS_URL": "sqlite:///nowhere.db"}


def start_worker(store_file: str, log: Path) -> Child:
    args = ["-m", "flask", "--app", "examples.flask_app", "errands", "worker", "--concurrency", "2", "--grace", "5"]
    worker = spawn(args, flask_env(store_file), ROOT, log)
    wait_until(lambda: "started" in worker.output() or not worker.running(), message="the worker to start")
    assert worker.running(), worker.output()
    return worker


@pytest.fixture
def web(store_file: str, tmp_path: Path) -> Iterator[WebProcess]:
    process = start_uvicorn("examples.flask_app:asgi", flask_env(store_file), ROOT, tmp_path / "web.log")
    yield process
    process.stop_gracefully()


def test_view_enqueues_and_the_worker_runs_the_job_in_the_app_context(
    web: WebProcess, store_file: str, tmp_path: Path
) -> None:
    worker = start_worker(store_file, tmp_path / "worker.log")
    try:
        with web.client() as client:
            assert '<script src="/errands/errands.js">' in client.get("/").text
            assert "errands.follow" in client.get("/errands/errands.js").text
            started = client.post("/exports", params={"rows": 6, "pause": 0.01}).json()
            assert started["follow"].startswith(f"/errands/api/jobs/{started['id']}?token=")
            assert states_until_finished(client, events_url(started["follow"])) == ["queued", "running", "succeeded"]
            job = client.get(started["follow"]).json()
            # The separator comes from current_app.config: the task ran inside the app context.
            assert job["result"] == {"rows": 6, "separator": ","}
            path, _, query = started["follow"].partition("?")
            assert client.get(f"{path}/files/export.csv?{query}").text.splitlines()[-1] == "5,25"
            assert client.get("/no-such-page").status_code == 404  # Flask still answers the rest
    finally:
        assert worker.stop() == 0, worker.output()
    assert "worker" in worker.output() and "stopped" in worker.output()


def test_sigterm_stops_the_flask_worker_gracefully_and_releases_its_job(
    web: WebProcess, store_file: str, tmp_path: Path
) -> None:
    worker = start_worker(store_file, tmp_path / "worker.log")
    with web.client() as client:
        started = client.post("/exports", params={"rows": 400, "pause": 0.05}).json()
        wait_until(lambda: (client.get(started["follow"]).json()["progress"]["current"] or 0) >= 3,
                   message="the export to be under way")
    assert worker.stop() == 0, worker.output()
    store = Errands(store_file)
    assert store.get(started["id"]).state is State.QUEUED  # released, not failed
    store.close()


def shop_app(store_file: str, name: str = "shop", secret_key: str = "flask-test") -> tuple[Flask, FlaskErrands]:
    jobs = FlaskErrands()

    @jobs.task
    def app_name(ctx: JobContext) -> str:
        return current_app.name

    app = Flask(name)
    app.config.update(SECRET_KEY=secret_key, ERRANDS_URL=store_file, ERRANDS_TOKEN="admin-token",
                      ERRANDS_PREFIX="/jobs", ERRANDS_LEASE=12)
    jobs.init_app(app)

    @app.post("/start")
    def start() -> dict[str, Any]:
        job = app_name.enqueue()
        return {"id": job.id, "follow": jobs.follow_url(job.id)}

    return app, jobs


def test_config_tokens_and_an_in_process_worker_through_a_live_server(store_file: str) -> None:
    app, jobs = shop_app(store_file)
    assert jobs.url == store_file and jobs.settings.lease == 12
    asgi = serve_with_api(app, worker=WorkerConfig(idle_wait=0.05), trust_loopback=False)
    with ThreadServer(asgi) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        started = client.post("/start").json()
        follow = started["follow"]
        assert follow.startswith(f"/jobs/api/jobs/{started['id']}?token=")
        job = wait_until(lambda: (j := client.get(follow).json())["state"] == "succeeded" and j)
        assert job["result"] == "shop" and "args" not in job  # a follower sees the public view

        assert client.get(f"/jobs/api/jobs/{started['id']}").status_code == 401
        assert client.get("/jobs/api/jobs", params={"token": follow.partition("token=")[2]}).status_code == 403
        admin = client.get("/jobs/api/jobs", headers={"Authorization": "Bearer admin-token"})
        assert admin.status_code == 200 and admin.json()["jobs"][0]["id"] == started["id"]

        # Another process of the same site (same SECRET_KEY) signs tokens the server accepts.
        _, same_site = shop_app(store_file, "shop-2")
        _, other_site = shop_app(store_file, "other", secret_key="another key")
        assert client.get(same_site.follow_url(started["id"])).status_code == 200
        assert client.get(other_site.follow_url(started["id"])).status_code == 401
    jobs.close()


def test_arguments_win_over_the_config_and_tasks_run_without_an_app_too(tmp_path: Path) -> None:
    explicit = f"sqlite:///{tmp_path / 'explicit.db'}"
    jobs = FlaskErrands(url=explicit)

    @jobs.task
    def app_name(ctx: JobContext) -> str:
        return current_app.name

    before = app_name.enqueue()  # no Flask app yet: it would run without an app context
    assert pytest.raises(RuntimeError, app_name, None).match("application context")
    app = Flask("late")
    app.config.update(ERRANDS_URL=f"sqlite:///{tmp_path / 'config.db'}")
    jobs.init_app(app)
    assert jobs.url == explicit and jobs.get(before.id).task == app_name.name  # the same store
    assert app_name(None) == "late"
    assert app.extensions["errands"] is jobs and "errands" in app.cli.commands
    jobs.close()
