"""The Schedules page and the overview's flow control in a real browser: a live server (uvicorn),
a real worker (which stores the tasks' and queues' limits), Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from errands import Errands, JobContext, WorkerConfig
from errands.web import create_app
from tests.browser.conftest import screenshot
from tests.helpers import serve, wait_until


@pytest.fixture
def limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Errands, str]]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(f"sqlite:///{tmp_path / 'flow.db'}")

    @app.task(name="resize", concurrency=2, rate="30/m")
    def resize(ctx: JobContext, n: int) -> int:
        return n

    @app.periodic(every=3600, name="nightly-report")
    def nightly(ctx: JobContext) -> str:
        return "report"

    app.queue("mail", concurrency=3)
    server, url = serve(create_app(app, poll_interval=0.05))
    worker = app.start_worker(WorkerConfig(concurrency=2, idle_wait=0.05))
    wait_until(lambda: any(f.kind == "task" and f.name == "resize" for f in app.store.flows()), timeout=30)
    app.pause("reports", by="ops@example")
    yield app, f"{url}/dashboard"
    worker.stop(now=True)
    server.should_exit = True
    app.close()


def test_overview_shows_every_flow_and_the_paused_queue(limited: tuple[Errands, str], page: Page) -> None:
    app, url = limited
    page.goto(f"{url}/")
    panel = page.locator("#flow-control")
    resize = panel.locator("tr[data-flow='task:resize']")
    expect(resize).to_contain_text("task")
    expect(resize).to_contain_text("0 / 2")
    expect(resize).to_contain_text("30/m")
    mail = panel.locator("tr[data-flow='queue:mail']")
    expect(mail).to_contain_text("0 / 3")
    reports = panel.locator("tr[data-flow='queue:reports']")
    expect(reports).to_contain_text("paused")
    expect(reports).to_contain_text("by ops@example")
    expect(reports.locator("time")).to_have_count(1)
    expect(panel.locator("tbody tr")).to_have_count(3)
    expect(resize.locator("button")).to_have_count(0)  # pause and resume are for queues
    resize.locator("a").click()
    expect(page).to_have_url(f"{url}/jobs?task=resize")
    page.goto(f"{url}/")
    screenshot(page, "dashboard-flow")
    # A paused queue with no job is resumed from the panel (the queues table does not list it).
    reports.locator("button:text('Resume')").click()
    expect(reports).to_have_count(0)  # resumed and unlimited: no flow control left to show
    expect(panel.locator("tbody tr")).to_have_count(2)
    assert not any(f.paused for f in app.store.flows())


def test_schedules_page_shows_next_fire_and_pauses_and_resumes(limited: tuple[Errands, str], page: Page) -> None:
    app, url = limited
    wait_until(lambda: any(s.next_fire for s in app.schedules()), timeout=30)
    (schedule,) = app.schedules()
    assert schedule.next_fire is not None
    next_fire = schedule.next_fire.strftime("%Y-%m-%d %H:%M:%S UTC")
    page.goto(f"{url}/schedules")
    row = page.locator("tr", has_text="nightly-report")
    expect(row).to_contain_text("every 3600s")
    expect(row).to_contain_text("active")
    expect(row.locator(f"time[title='{next_fire}']")).to_have_count(1)
    screenshot(page, "dashboard-schedules")

    row.locator("button:text('Pause')").click()
    expect(page.locator(".notice")).to_contain_text("The schedule is paused")  # the page swapped in, no reload
    expect(row.locator(".bad")).to_have_text("paused")
    assert app.schedules()[0].paused

    row.locator("button:text('Resume')").click()
    expect(row).to_contain_text("active")
    expect(row.locator("button:text('Pause')")).to_have_count(1)
    assert not app.schedules()[0].paused
