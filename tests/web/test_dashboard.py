"""The dashboard over real HTTP on both stores: access, CSRF, read-only mode, escaping, bad
input; and its store reads (id windows, capped counts, bulk chunks) with exact counts."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from errands import Errands, JobContext, State, WorkerConfig
from errands.job import JobEvent
from errands.stores import dashboard as reads
from errands.web import create_app
from errands.web.dashboard.pages import timeline
from tests.helpers import serve, wait_until
from tests.web.conftest import LiveServer, RemoteHost, define_tasks

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found, "the page has no action form"
    return found.group(1)


def test_every_page_carries_a_strict_csp_and_no_inline_script(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1})
    with live.client() as c:
        for path in ["/dashboard/", "/dashboard/jobs", f"/dashboard/jobs/{job.id}", "/dashboard/workers",
                     "/dashboard/jobs?state=failed&q=x&range=1h"]:
            page = c.get(path)
            assert page.status_code == 200, path
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert re.findall(r"<script[^>]*>", page.text) == [
                '<script type="module" src="/dashboard/static/dashboard.js">']
            assert not re.search(r"\son[a-z]+=", page.text), f"an inline handler on {path}"
        assert c.get("/dashboard").headers["location"].endswith("/dashboard/")
        assert c.get("/dashboard/static/dashboard.css").status_code == 200


def test_a_script_in_arguments_is_escaped(live: LiveServer) -> None:
    payload = '</pre><script>alert("x")</script>'
    job = live.errands.enqueue("export", {"rows": 1, "pause": 0})
    live.errands.store.cancel(job.id)
    marked = live.errands.enqueue("internal", {}, queue=payload)
    with live.client() as c:
        page = c.get(f"/dashboard/jobs/{marked.id}").text
        assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        listing = c.get("/dashboard/jobs", params={"queue": payload}).text
        assert "<script>alert" not in listing and f"#{marked.id}" in listing


def test_a_foreign_host_is_refused(live: LiveServer) -> None:
    live.errands.enqueue("export", {"rows": 1})
    with live.client() as c:
        for path in ["/dashboard/", "/dashboard/jobs", "/dashboard/jobs/1", "/dashboard/events"]:
            page = c.get(path, headers={"Host": "attacker.example"})
            assert page.status_code == 401, path
            assert "DNS rebinding" in page.text and "export" not in page.text


def test_cross_site_posts_are_refused(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1}, delay=3600)
    with live.client() as c:
        token = csrf_of(c, f"/dashboard/jobs/{job.id}")
        form = {"csrf": token, "confirm": "yes"}
        path = f"/dashboard/jobs/{job.id}/cancel"
        refused = [
            c.post(path, data=form, headers={"Sec-Fetch-Site": "cross-site"}),
            c.post(path, data=form, headers={"Origin": "http://attacker.example"}),
            c.post(path, data=form, headers={"Origin": "null"}),
            c.post(path, data={"confirm": "yes"}),
            c.post(path, data={"csrf": "x" * 43, "confirm": "yes"}),
            c.post(path, json=form),
        ]
        assert [r.status_code for r in refused] == [403, 403, 403, 403, 403, 415]
        assert "another site" in refused[0].text and "CSRF" in refused[3].text
        assert live.errands.get(job.id).state is State.SCHEDULED
        with httpx.Client(base_url=live.url) as fresh:  # no cookie: a forged form cannot know it
            assert fresh.post(path, data=form).status_code == 403
        ok = c.post(path, data=form, headers={"Sec-Fetch-Site": "same-origin", "Origin": live.url})
        assert ok.status_code == 303 and ok.headers["location"].endswith(f"/dashboard/jobs/{job.id}?notice=cancelled")
        assert live.errands.get(job.id).state is State.CANCELLED


def test_destructive_actions_ask_first(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1})
    live.errands.cancel(job.id)
    with live.client() as c:
        token = csrf_of(c, f"/dashboard/jobs/{job.id}")
        asked = c.post(f"/dashboard/jobs/{job.id}/delete", data={"csrf": token})
        assert asked.status_code == 200 and "Delete job #" in asked.text and 'name="confirm" value="yes"' in asked.text
        assert live.errands.get(job.id).state is State.CANCELLED
        done = c.post(f"/dashboard/jobs/{job.id}/delete", data={"csrf": token, "confirm": "yes"})
        assert done.status_code == 303 and done.headers["location"].endswith("/dashboard/jobs?notice=deleted")
        assert c.get(f"/dashboard/jobs/{job.id}").status_code == 404
        assert live.errands.events(job.id) == []


@pytest.fixture
def read_only(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)

    def viewer(request: object) -> bool:
        return getattr(request, "headers", {}).get("x-viewer") == "yes"

    server, url = serve(create_app(app, trust_loopback=False, token="admin-token", dashboard_viewer=viewer))
    yield LiveServer(app, url, server)
    server.should_exit = True
    app.close()


def test_a_viewer_may_look_but_not_act(read_only: LiveServer) -> None:
    job = read_only.errands.enqueue("export", {"rows": 1}, delay=3600)
    with read_only.client(headers={"X-Viewer": "yes"}) as c:
        page = c.get(f"/dashboard/jobs/{job.id}")
        assert page.status_code == 200 and "read-only" in page.text
        assert "/cancel" not in page.text and "Act on every job" not in c.get("/dashboard/jobs").text
        token = page.cookies.get("errands_csrf") or c.cookies["errands_csrf"]
        refused = c.post(f"/dashboard/jobs/{job.id}/cancel", data={"csrf": token, "confirm": "yes"})
        assert refused.status_code == 403 and "read-only" in refused.text
    with read_only.client() as stranger:
        assert stranger.get("/dashboard/").status_code == 401
    with read_only.client(headers={"Authorization": "Bearer admin-token"}) as admin:
        assert "/cancel" in admin.get(f"/dashboard/jobs/{job.id}").text
    assert read_only.errands.get(job.id).state is State.SCHEDULED


def test_bad_filters_get_a_clear_answer(live: LiveServer) -> None:
    with live.client() as c:
        cases = {
            "state=bogus": "unknown state 'bogus'",
            "range=3y": "unknown range '3y'",
            "before=abc": "'before' must be a job id",
            "before=99999999999999999999999": "'before' must be a job id",
            "q=" + "x" * 300: "at most 200 characters",
            "from=yesterday": "date and time",
            "q=%00": "NUL",
        }
        for query, message in cases.items():
            page = c.get(f"/dashboard/jobs?{query}")
            assert page.status_code == 422, query
            assert message in html.unescape(page.text) and "Traceback" not in page.text
        assert c.get("/dashboard/jobs/99999999").status_code == 404
        assert c.get("/dashboard/jobs/99999999999999999999").status_code == 404
        assert c.get("/dashboard/bulk/nope").status_code == 404
        assert c.get("/dashboard/jobs/1/files/x").status_code == 404


def test_filters_find_jobs_by_state_task_queue_time_and_text(live: LiveServer) -> None:
    app = live.errands
    wanted = app.enqueue("export", {"rows": 2, "pause": 0.25}, queue="reports")
    app.enqueue("export", {"rows": 1}, queue="other")
    failed = app.enqueue("internal", {}, queue="reports")
    app.cancel(failed.id)
    with live.client() as c:
        def ids(**params: str) -> list[int]:
            return [int(i) for i in re.findall(r'<tr data-job="(\d+)">', c.get("/dashboard/jobs", params=params).text)]

        assert ids(queue="reports") == [failed.id, wanted.id]
        assert ids(queue="reports", task="export") == [wanted.id]
        assert ids(state="cancelled") == [failed.id]
        assert ids(q="pause") == [wanted.id]
        exact = c.get("/dashboard/jobs", params={"q": str(wanted.id)}).text
        assert f'Job <a href="/dashboard/jobs/{wanted.id}">' in exact
        assert len(ids(range="15m")) == 3
        assert ids(**{"from": "2000-01-01T00:00", "to": "2000-01-02T00:00"}) == []


def test_a_page_reads_one_window_and_says_where_to_look_further(store_url: str) -> None:
    app = Errands(store_url)

    @app.task(name="t")
    def t(ctx: JobContext, n: int) -> None: ...

    @app.task(name="rare")
    def rare(ctx: JobContext, n: int) -> None: ...

    ids = [app.enqueue("rare" if n % 7 == 0 else "t", {"n": n}).id for n in range(300)]
    wanted = [i for n, i in enumerate(ids) if n % 7 == 0]
    app.store.cancel(wanted[0])
    seen: list[int] = []
    before, pages, short = None, 0, 0
    f = reads.JobFilter(states=(State.QUEUED,), task="rare")
    while True:
        page = reads.find_jobs(app.store, f, before, limit=10, window=50)
        seen.extend(j.id for j in page.jobs)
        pages += 1
        short += page.scanned_down_to is not None
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == sorted(wanted[1:], reverse=True)  # each once, newest first, the cancelled one left out
    assert short >= 5 and pages >= 6
    narrow = reads.find_jobs(app.store, reads.JobFilter(search='"n":14}'), None, limit=10, window=50)
    assert narrow.jobs == [] and narrow.scanned_down_to == ids[-1] + 1 - 50
    assert narrow.next_before == narrow.scanned_down_to
    app.close()


def test_state_counts_stop_at_the_cap(store_url: str) -> None:
    app = Errands(store_url)

    @app.task(name="t")
    def t(ctx: JobContext) -> None: ...

    app.enqueue_many("t", [{} for _ in range(25)])
    counts = reads.state_counts(app.store, cap=10)
    assert counts[State.QUEUED] == 11 and counts[State.RUNNING] == 0
    assert reads.state_counts(app.store, cap=100)[State.QUEUED] == 25
    app.close()


def test_bulk_actions_by_filter_change_exactly_the_matching_jobs(store_url: str) -> None:
    app = Errands(store_url)

    @app.task(name="t")
    def t(ctx: JobContext, n: int) -> None: ...

    @app.task(name="other")
    def other(ctx: JobContext) -> None: ...

    ids = app.enqueue_many("t", [{"n": n} for n in range(1234)])
    others = app.enqueue_many("other", [{} for _ in range(40)])
    app.enqueue_many("t", [{"n": -1} for _ in range(3)])  # after the start: never touched

    def run(action: reads.BulkAction, f: reads.JobFilter, top: int) -> int:
        cursor: int | None = top
        changed = 0
        while cursor is not None:
            chunk = reads.act_on_chunk(app.store, action, f, cursor, chunk=100, window=300)
            assert chunk.changed <= chunk.matched <= 100
            changed += chunk.changed
            cursor = chunk.next_before
        return changed

    top = max(others) + 1
    assert run(reads.BulkAction.CANCEL, reads.JobFilter(task="t"), top) == 1234
    states = [j.state for j in app.list_jobs(task="t", limit=2000)]
    assert states.count(State.CANCELLED) == 1234 and states.count(State.QUEUED) == 3
    assert all(app.get(i).state is State.QUEUED for i in others)
    assert run(reads.BulkAction.CANCEL, reads.JobFilter(task="t"), top) == 0  # nothing left to cancel
    starting_with_1 = 1 + 10 + 100 + 234  # n = 1, 10-19, 100-199, 1000-1233
    assert run(reads.BulkAction.RETRY, reads.JobFilter(states=(State.CANCELLED,), search='"n":1'), top) \
        == starting_with_1
    assert run(reads.BulkAction.DELETE, reads.JobFilter(task="t"), top) == 1234 - starting_with_1
    assert len(app.list_jobs(task="t", limit=2000)) == starting_with_1 + 3
    assert app.events(ids[0]) == []
    app.close()


def test_the_overview_counts_the_last_hour(live: LiveServer, worker: None) -> None:
    app = live.errands
    done = [app.enqueue("export", {"rows": 1}).id for _ in range(4)]
    boom = app.enqueue("explode", {}).id
    wait_until(lambda: all(app.get(j).finished for j in [*done, boom]), timeout=60)
    view = reads.overview(app.store)
    assert view.finished_last_hour == 5 and view.failure_rate == pytest.approx(0.2)
    assert sum(s for s, _, _ in view.per_minute) == 4 and len(view.per_minute) == 60
    assert len(view.live_workers) == 1
    with live.client() as c:
        page = c.get("/dashboard/")
        assert "20.0 %" in page.text and 'data-count="succeeded">4<' in page.text
        workers = c.get("/dashboard/workers").text
        assert "Alive (1)" in workers


def test_a_browser_on_another_host_needs_credentials(store_url: str, remote_host: RemoteHost,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    job = app.enqueue("export", {"rows": 1})
    server, url = serve(create_app(app, token="remote-admin"), host=remote_host.address)
    try:
        code = f"""
import httpx, json
url = {url!r}
print(json.dumps([
    httpx.get(url + "/dashboard/").status_code,
    httpx.get(url + "/dashboard/jobs/{job.id}").status_code,
    httpx.get(url + "/dashboard/jobs/{job.id}", params={{"token": {app.follow_token(job.id)!r}}}).status_code,
    httpx.get(url + "/dashboard/jobs", headers={{"Authorization": "Bearer remote-admin"}}).status_code,
]))
"""
        done = remote_host.run_python(code)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [401, 401, 403, 200]
    finally:
        server.should_exit = True
        app.close()


def test_a_waiting_job_says_why_it_is_not_running(live: LiveServer) -> None:
    app = live.errands
    queued = app.enqueue("export", {"rows": 1})
    later = app.enqueue("export", {"rows": 1}, delay=7200)
    child = app.then(later.id, "export", {"rows": 2})
    with live.client() as c:
        def why(job_id: int) -> str:
            page = html.unescape(c.get(f"/dashboard/jobs/{job_id}").text)
            assert "Why it is not running" in page
            return page

        assert "No worker is running: it waits until one starts." in why(queued.id)
        assert "It is scheduled to run in 1 h" in why(later.id)
        assert f"It waits for its parent job #{later.id} to succeed." in why(child.id)
    running = app.start_worker(WorkerConfig(concurrency=1, idle_wait=0.05, queues=("elsewhere",)))
    try:
        wait_until(lambda: app.store.workers())
        with live.client() as c:
            page = html.unescape(c.get(f"/dashboard/jobs/{queued.id}").text)
            assert "serves queue 'default'" in page
    finally:
        running.stop()


def test_signing_in_with_the_admin_token_opens_the_dashboard(read_only: LiveServer) -> None:
    job = read_only.errands.enqueue("export", {"rows": 1}, delay=3600)
    with read_only.client() as c:
        assert c.get("/dashboard/").status_code == 401
        assert 'href="/dashboard/login"' in c.get("/dashboard/jobs").text
        assert c.get("/dashboard/login").status_code == 200
        wrong = c.post("/dashboard/login", data={"token": "guess"})
        assert wrong.status_code == 401 and "not the admin token" in wrong.text
        assert "errands_session" not in c.cookies
        cross = c.post("/dashboard/login", data={"token": "admin-token"}, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403 and "errands_session" not in c.cookies
        ok = c.post("/dashboard/login", data={"token": "admin-token"})
        assert ok.status_code == 303 and "admin-token" not in ok.headers["set-cookie"]
        assert "HttpOnly" in ok.headers["set-cookie"] and "SameSite=strict" in ok.headers["set-cookie"]
        page = c.get(f"/dashboard/jobs/{job.id}")
        assert page.status_code == 200 and "/cancel" in page.text and "Sign out" in page.text
        token = csrf_of(c, f"/dashboard/jobs/{job.id}")
        assert c.post(f"/dashboard/jobs/{job.id}/cancel", data={"csrf": token, "confirm": "yes"}).status_code == 303
        assert read_only.errands.get(job.id).state is State.CANCELLED
        forged = c.cookies["errands_session"].split(".")[0] + "." + "0" * 64
        c.cookies.set("errands_session", forged)
        assert c.get("/dashboard/").status_code == 401


def test_a_time_range_keeps_only_jobs_created_in_it(store_url: str) -> None:
    app = Errands(store_url)

    @app.task(name="t")
    def t(ctx: JobContext) -> None: ...

    ids = []
    for _ in range(3):
        ids.append(app.enqueue("t", {}).id)
        time.sleep(0.05)  # creation times apart by more than datetime's rounding
    first, middle, last = ids
    at = {j: app.get(j).created_at.timestamp() for j in ids}
    between = reads.JobFilter(since=(at[first] + at[middle]) / 2, until=(at[middle] + at[last]) / 2)
    assert [j.id for j in reads.find_jobs(app.store, between).jobs] == [middle]
    after_first = reads.JobFilter(since=(at[first] + at[middle]) / 2)
    assert [j.id for j in reads.find_jobs(app.store, after_first).jobs] == [last, middle]
    app.close()


def test_the_timeline_names_the_worker_of_each_run() -> None:
    def ev(i: int, kind: str, state: State | None = None, **data: object) -> JobEvent:
        return JobEvent(i, 1, datetime.now(UTC), kind, state, data or None)

    events = [ev(1, "state", State.QUEUED), ev(2, "state", State.RUNNING, worker="w1", attempt=1),
              ev(3, "progress", None, current=1), ev(4, "rescued", None, worker_losses=1),
              ev(5, "state", State.QUEUED, reason="lease expired"), ev(6, "state", State.RUNNING, worker="w2"),
              ev(7, "log", None, message="hi"), ev(8, "state", State.SUCCEEDED, runtime=1.0)]
    rows, progress = timeline(events)
    assert progress == 1
    assert [(r.event.id, r.worker) for r in rows] == [(1, None), (2, "w1"), (4, "w1"), (5, None), (6, "w2"),
                                                      (7, "w2"), (8, "w2")]


def test_mounted_under_a_prefix_every_link_keeps_it(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    job = app.enqueue("export", {"rows": 1}, delay=3600)
    server, url = serve(Starlette(routes=[Mount("/errands", app=create_app(app))]))
    try:
        with httpx.Client(base_url=url) as c:
            page = c.get(f"/errands/dashboard/jobs/{job.id}")
            assert page.status_code == 200
            assert 'href="/errands/dashboard/static/dashboard.css"' in page.text
            assert f'action="/errands/dashboard/jobs/{job.id}/cancel"' in page.text
            assert 'data-base="/errands/dashboard"' in page.text
            assert c.get("/errands/dashboard/static/dashboard.js").status_code == 200
            token = CSRF.search(page.text)
            assert token is not None
            done = c.post(f"/errands/dashboard/jobs/{job.id}/cancel", data={"csrf": token.group(1), "confirm": "yes"})
            assert done.headers["location"] == f"/errands/dashboard/jobs/{job.id}?notice=cancelled"
        assert app.get(job.id).state is State.CANCELLED
    finally:
        server.should_exit = True
        app.close()
