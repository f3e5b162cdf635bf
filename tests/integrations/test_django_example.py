"""Django: the example project served by a real uvicorn process (Django with the errands API in
asgi.py) and worked by `manage.py errands_worker`: an errands job started from a view and
followed live, Django tasks read back through the Tasks API, and a graceful SIGTERM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from errands import Errands, State
from tests.helpers import wait_until
from tests.integrations.live import (
    DJANGO_PROJECT,
    Child,
    WebProcess,
    events_url,
    spawn,
    start_uvicorn,
    states_until_finished,
)


@pytest.fixture
def store_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'errands.db'}"


def django_env(store_file: str) -> dict[str, str]:
    return {"ERRANDS_URL": store_file, "DJANGO_SECRET_KEY": "django-test", "DJANGO_SETTINGS_MODULE": "mysite.settings"}


def start_worker(store_file: str, log: Path) -> Child:
    worker = spawn(["manage.py", "errands_worker", "--concurrency", "4", "--grace", "5"],
                   django_env(store_file), DJANGO_PROJECT, log)
    wait_until(lambda: "started" in worker.output() or not worker.running(), message="the worker to start")
    assert worker.running(), worker.output()
    return worker


@pytest.fixture
def web(store_file: str, tmp_path: Path) -> Iterator[WebProcess]:
    process = start_uvicorn("mysite.asgi:application", django_env(store_file), DJANGO_PROJECT, tmp_path / "web.log")
    yield process
    process.stop_gracefully()


@pytest.fixture
def worker(store_file: str, tmp_path: Path) -> Iterator[Child]:
    process = start_worker(store_file, tmp_path / "worker.log")
    yield process
    assert process.stop() == 0, process.output()


@contextmanager
def browser(web: WebProcess) -> Iterator[httpx.Client]:
    """A client holding Django's CSRF cookie and sending it back, as the example page does."""
    with web.client() as client:
        assert '<script src="/errands/errands.js">' in client.get("/").text
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        yield client


def test_view_enqueues_and_the_visitor_follows_the_job(web: WebProcess, worker: Child) -> None:
    with web.client() as stranger:
        assert stranger.post("/exports/", data={"rows": 3}).status_code == 403  # CSRF still guards views
    with browser(web) as client:
        assert "errands.follow" in client.get("/errands/errands.js").text
        started = client.post("/exports/", data={"rows": 7, "pause": 0.01}).json()
        follow = started["follow"]
        assert follow.startswith(f"/errands/api/jobs/{started['id']}?token=")
        assert states_until_finished(client, events_url(follow)) == ["queued", "running", "succeeded"]
        assert client.get(follow).json()["result"] == {"rows": 7}
        path, _, query = follow.partition("?")
        assert client.get(f"{path}/files/export.csv?{query}").text.splitlines()[-1] == "6,36"


def test_django_tasks_run_in_the_errands_worker_and_report_back(web: WebProcess, worker: Child) -> None:
    with browser(web) as client:
        good = client.post("/reports/", data={"title": "Q3", "rows": 5}).json()
        bad = client.post("/reports/", data={"title": "Q4", "rows": -1}).json()
        assert good["status"] == "READY"

        def report(result_id: str) -> dict[str, object]:
            body = client.get(f"/reports/{result_id}/").json()
            return body if body["status"] in ("SUCCESSFUL", "FAILED") else {}

        assert wait_until(lambda: report(good["id"])) == {
            "id": good["id"], "status": "SUCCESSFUL", "attempts": 1, "errors": [],
            "return_value": {"title": "Q3", "rows": 5, "total": 10, "attempt": 1},
        }
        failed = wait_until(lambda: report(bad["id"]))
        assert failed["status"] == "FAILED" and failed["errors"] == ["builtins.ValueError"]

        # The same job, seen through the errands API (a result id is a job id).
        job = client.get(f"/errands/api/jobs/{good['id']}").json()
        assert job["task"] == "django_task" and job["state"] == "succeeded"

        export = client.post("/exports/", data={"rows": 1, "pause": 0}).json()
        assert client.get(f"/reports/{export['id']}/").status_code == 404  # not a Django task
        assert client.get("/reports/12345/").status_code == 404
        assert client.get("/reports/not-a-number/").status_code == 404


def test_sigterm_releases_the_running_job_and_the_next_worker_finishes_it(
    web: WebProcess, store_file: str, tmp_path: Path
) -> None:
    first = start_worker(store_file, tmp_path / "first.log")
    with browser(web) as client:
        started = client.post("/exports/", data={"rows": 40, "pause": 0.05}).json()
        wait_until(lambda: (client.get(started["follow"]).json()["progress"]["current"] or 0) >= 5,
                   message="the export to be under way")
    assert first.stop() == 0, first.output()
    store = Errands(store_file)
    released = store.get(started["id"])
    assert released.state is State.QUEUED and released.checkpoint["rows"] >= 5

    second = start_worker(store_file, tmp_path / "second.log")
    try:
        done = store.wait(started["id"], timeout=30)
    finally:
        assert second.stop() == 0, second.output()
    assert done.state is State.SUCCEEDED and done.result == {"rows": 40}
    store.close()
