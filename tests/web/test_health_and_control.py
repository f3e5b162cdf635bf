"""/healthz against a store that is corrupt, gone, read-only or locked; metrics counted from the
app's start; cancel of a finished job refused like retry; downloads that browsers cannot sniff."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from errands import Errands, JobContext, State
from errands.web import create_app
from tests.helpers import drain, serve, sqlite_url, wait_until
from tests.web.conftest import LiveServer, define_tasks


def health(url: str) -> httpx.Response:
    return httpx.get(f"{url}/healthz", timeout=30)


def test_health_is_ok_on_a_working_store(live: LiveServer) -> None:
    answer = health(live.url)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def sqlite_server(path: Path, **options: Any) -> tuple[Errands, str, object]:
    app = Errands(f"sqlite:///{path}")
    define_tasks(app)
    app.enqueue("export", {"rows": 1})
    server, url = serve(create_app(app, **options))
    return app, url, server


def test_a_corrupt_sqlite_file_is_unhealthy(tmp_path: Path) -> None:
    app, url, server = sqlite_server(tmp_path / "errands.db")
    try:
        assert health(url).status_code == 200
        app.store.close()  # the last connection checkpoints the WAL into the file and removes it
        assert not (tmp_path / "errands.db-wal").exists()
        with open(tmp_path / "errands.db", "r+b") as f:  # the header and the first pages
            f.write(b"this is not a database" * 500)
        answer = health(url)
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        assert "not a database" in answer.json()["store"] or "malformed" in answer.json()["store"]
    finally:
        server.should_exit = True  # type: ignore[attr-defined]


def test_a_removed_sqlite_file_is_unhealthy_and_not_recreated(tmp_path: Path) -> None:
    app, url, server = sqlite_server(tmp_path / "errands.db")
    try:
        app.store.close()
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"errands.db{suffix}").unlink(missing_ok=True)
        assert health(url).status_code == 503
        assert not (tmp_path / "errands.db").exists()
    finally:
        server.should_exit = True  # type: ignore[attr-defined]


def test_a_read_only_sqlite_database_is_unhealthy_until_writable_again(small_fs: Path) -> None:
    app, url, server = sqlite_server(small_fs / "errands.db")
    try:
        assert health(url).status_code == 200
        app.store.close()  # a file system with files open for writing cannot be made read-only
        subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
        try:
            answer = health(url)
            assert answer.status_code == 503 and "read-only" in answer.json()["store"], answer.text
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
        assert health(url).status_code == 200
        assert app.enqueue("export", {"rows": 1}).state is State.QUEUED  # no connection was left read-only
    finally:
        server.should_exit = True  # type: ignore[attr-defined]


def test_a_sqlite_store_busy_writing_is_healthy_at_once(tmp_path: Path) -> None:
    app, url, server = sqlite_server(tmp_path / "errands.db", health_timeout=30)
    holder = sqlite3.connect(tmp_path / "errands.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        assert health(url).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        server.should_exit = True  # type: ignore[attr-defined]


def test_a_postgres_store_that_does_not_answer_is_unhealthy_after_the_deadline(postgres_url: str) -> None:
    app = Errands(postgres_url)
    define_tasks(app)
    server, url = serve(create_app(app, health_timeout=0.5))
    locker = psycopg.connect(postgres_url, autocommit=True)
    try:
        assert health(url).status_code == 200
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE errands.jobs IN ACCESS EXCLUSIVE MODE")  # every read of jobs waits
        answers = [health(url) for _ in range(3)]  # the later ones share the probe still waiting
        assert [a.status_code for a in answers] == [503] * 3
        assert "did not answer within 0.5s" in answers[0].json()["store"]
        locker.execute("ROLLBACK")
        wait_until(lambda: health(url).status_code == 200, timeout=30)
    finally:
        locker.close()
        server.should_exit = True
        app.close()


def test_metrics_count_from_the_start_of_the_app_not_the_first_scrape(store_url: str) -> None:
    app = Errands(store_url)
    define_tasks(app)
    app.enqueue("export", {"rows": 1})  # before the app: not counted
    server, url = serve(create_app(app))
    try:
        for rows in (1, 2, 3):
            app.enqueue("export", {"rows": rows})
        drain(app)
        metrics = httpx.get(f"{url}/metrics").text  # the first scrape
        assert 'errands_jobs_enqueued_total{task="export"} 3.0' in metrics
        assert 'errands_jobs_finished_total{state="succeeded",task="export"} 4.0' in metrics
    finally:
        server.should_exit = True
        app.close()


def test_cancel_of_a_finished_job_is_a_409_like_retry(live: LiveServer) -> None:
    queued = live.errands.enqueue("export", {"rows": 1})
    done = live.errands.enqueue("export", {"rows": 1}, queue="other")
    drain(live.errands, queues=["other"])
    with live.client() as c:
        first = c.post(f"/api/jobs/{queued.id}/cancel", json={})
        assert first.status_code == 200 and first.json()["state"] == "cancelled"
        for job_id, state in ((queued.id, "cancelled"), (done.id, "succeeded")):
            again = c.post(f"/api/jobs/{job_id}/cancel", json={})
            assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
            assert state in again.json()["error"]["message"]
        assert c.post(f"/api/jobs/{done.id}/retry", json={}).status_code == 409
    # The Python API stays idempotent: a finished job is returned unchanged.
    assert live.errands.cancel(done.id).state is State.SUCCEEDED


@pytest.fixture
def files_app(tmp_path: Path) -> Errands:
    app = Errands(sqlite_url(tmp_path))

    @app.task(name="report", public=True)
    def report(ctx: JobContext) -> None:
        ctx.save_file("résumé 1.csv", "a,b\n")
        ctx.save_file("page.html", "<script>alert(1)</script>", content_type="text/html")

    return app


def test_downloads_are_not_sniffed_and_non_ascii_names_use_rfc_5987(files_app: Errands) -> None:
    job = files_app.enqueue("report")
    drain(files_app)
    server, url = serve(create_app(files_app))
    try:
        with httpx.Client(base_url=f"{url}/api/jobs/{job.id}/files") as c:
            named = c.get("/résumé 1.csv")
            assert named.status_code == 200 and named.text == "a,b\n"
            assert named.headers["x-content-type-options"] == "nosniff"
            assert named.headers["content-disposition"] == (
                "attachment; filename=\"r_sum_ 1.csv\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.csv")
            page = c.get("/page.html")
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["content-disposition"] == 'attachment; filename="page.html"'
            assert page.headers["content-security-policy"] == "sandbox"
    finally:
        server.should_exit = True
        files_app.close()
