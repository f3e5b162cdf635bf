"""The dashboard in a real browser: a live server (uvicorn), a real worker, Chromium.

Every page is photographed into docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, Route, expect

from errands import Errands, JobContext, State, WorkerConfig
from errands.web import create_app
from tests.browser.conftest import screenshot
from tests.helpers import serve, wait_until


@dataclass
class Board:
    errands: Errands
    url: str  # the dashboard's root, without a trailing slash
    healthy: threading.Event  # `flaky` jobs fail until it is set


def define_tasks(app: Errands, healthy: threading.Event) -> None:
    @app.task(name="export")
    def export(ctx: JobContext, rows: int, pause: float = 0.0) -> dict[str, int]:
        for i in range(rows):
            time.sleep(pause)
            ctx.progress(i + 1, rows, f"exported row {i + 1} of {rows}")
        ctx.save_file("export.csv", "".join(f"{i},{i * i}\n" for i in range(rows)))
        return {"rows": rows}

    @app.task(name="flaky")
    def flaky(ctx: JobContext, n: int) -> int:
        if not healthy.is_set():
            raise ConnectionError(f"the mail server refused message {n}")
        return n

    @app.task(name="note")
    def note(ctx: JobContext, text: str) -> str:
        ctx.log(f"noted: {text}")
        return text


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Board]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(f"sqlite:///{tmp_path / 'board.db'}")
    healthy = threading.Event()
    define_tasks(app, healthy)
    server, url = serve(create_app(app, poll_interval=0.05))
    worker = app.start_worker(WorkerConfig(concurrency=4, idle_wait=0.05))
    yield Board(app, f"{url}/dashboard", healthy)
    worker.stop(now=True)
    server.should_exit = True
    app.close()


def finished(app: Errands, job_id: int) -> bool:
    return app.get(job_id).finished


def test_every_page_renders_and_is_photographed(board: Board, page: Page) -> None:
    app = board.errands
    done = [app.enqueue("export", {"rows": 3}).id for _ in range(6)]
    failed = app.enqueue("flaky", {"n": 1}).id
    wait_until(lambda: all(finished(app, j) for j in [*done, failed]), timeout=60)
    app.enqueue("export", {"rows": 400, "pause": 0.05})
    app.enqueue("export", {"rows": 1}, queue="reports", delay=3600)
    wait_until(lambda: app.list_jobs(state=State.RUNNING), timeout=30)

    page.goto(f"{board.url}/")
    expect(page.locator(".card", has_text="succeeded")).to_contain_text("6")
    expect(page.locator(".card", has_text="failed")).to_contain_text("1")
    expect(page.locator("#queues-h")).to_be_visible()
    expect(page.locator("svg.chart rect.fill-succeeded").first).to_be_attached()
    expect(page.locator("#live-status")).to_have_text("Live")
    screenshot(page, "dashboard-overview")

    page.goto(f"{board.url}/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(9)
    expect(page.locator("tr", has_text="flaky")).to_contain_text("ConnectionError")
    screenshot(page, "dashboard-jobs")

    page.goto(f"{board.url}/workers")
    expect(page.locator("#live-h")).to_have_text("Alive (1)")
    screenshot(page, "dashboard-workers")

    page.goto(f"{board.url}/jobs/{failed}")
    expect(page.locator(".traceback")).to_contain_text("ConnectionError")
    screenshot(page, "dashboard-job-failed")

    page.emulate_media(color_scheme="dark")
    page.goto(f"{board.url}/")
    expect(page.locator(".card").first).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"
    screenshot(page, "dashboard-overview-dark")
    page.click("#theme")  # system -> light, whatever the system says
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"

    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="light")
    page.goto(f"{board.url}/jobs")
    expect(page.locator("table.jobs")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "dashboard-jobs-phone")


def test_find_a_job_by_filter_and_see_its_timeline(board: Board, page: Page) -> None:
    app = board.errands
    ids = [app.enqueue("note", {"text": f"hello {i}"}).id for i in range(5)]
    target = app.enqueue("export", {"rows": 5}).id
    wait_until(lambda: all(finished(app, j) for j in [*ids, target]), timeout=60)

    page.goto(f"{board.url}/jobs")
    page.fill("input[name=task]", "export")
    page.select_option("select[name=state]", "succeeded")
    page.click("button:text('Filter')")
    expect(page).to_have_url(f"{board.url}/jobs?state=succeeded&task=export")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(1)
    page.click(f"a:text('#{target}')")

    expect(page.locator("h1")).to_contain_text(f"Job #{target}")
    timeline = page.locator("table.timeline tbody tr")
    expect(timeline).to_have_count(4)  # queued, running, file, succeeded
    expect(timeline.nth(0)).to_contain_text("queued")
    expect(timeline.nth(1)).to_contain_text("running")
    worker = app.get(target).lease_owner or app.store.workers()[0].id
    expect(timeline.nth(1)).to_contain_text(worker)
    expect(timeline.nth(3)).to_contain_text("succeeded")
    expect(page.locator("a[download]")).to_have_text("export.csv")
    with page.expect_download() as download:
        page.click("a[download]")
    assert Path(download.value.path()).read_text().count("\n") == 5
    screenshot(page, "dashboard-job")

    page.goto(f"{board.url}/jobs?q=hello 3")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    expect(page.locator("table.jobs")).to_contain_text(f"#{ids[3]}")


def test_cancel_a_running_job_and_see_it_end_cancelled_without_reload(board: Board, page: Page) -> None:
    app = board.errands
    job = app.enqueue("export", {"rows": 2000, "pause": 0.05}).id
    wait_until(lambda: app.get(job).state is State.RUNNING, timeout=30)
    page.goto(f"{board.url}/jobs/{job}")
    expect(page.locator(".job-head .state")).to_have_text("running")
    expect(page.locator("#live-status")).to_have_text("Live")
    message = page.locator("#progress-h + .progress .message")
    first = message.text_content()
    expect(message).not_to_have_text(first or "")  # the bar moves live
    page.evaluate("window.__notReloaded = true")

    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("button:text('Cancel')")
    expect(page.locator(".job-head .state")).to_have_text("cancelled", timeout=30_000)
    assert questions == [f"Cancel job #{job} (export)?"]
    assert page.evaluate("window.__notReloaded") is True
    assert app.get(job).state is State.CANCELLED
    expect(page.locator("table.timeline")).to_contain_text("cancel requested")
    expect(page.locator("button:text('Retry')")).to_be_visible()


def test_bulk_retry_of_failed_jobs_by_filter(board: Board, page: Page) -> None:
    app = board.errands
    flaky = [app.enqueue("flaky", {"n": n}).id for n in range(12)]
    other = app.enqueue("export", {"rows": 1}).id
    wait_until(lambda: all(app.get(j).state is State.FAILED for j in flaky) and finished(app, other), timeout=60)
    board.healthy.set()

    page.goto(f"{board.url}/jobs?state=failed&task=flaky")
    expect(page.locator("table.jobs tbody tr")).to_have_count(12)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("summary:text('Act on every job matching this filter')")
    page.click("button:text('Retry all')")
    expect(page.locator("h1")).to_have_text("Bulk retry: every failed job of task 'flaky'")
    expect(page.locator(".bulk-status")).to_contain_text("Done.", timeout=30_000)
    expect(page.locator(".bulk-status")).to_contain_text("12 jobs changed")
    screenshot(page, "dashboard-bulk")

    wait_until(lambda: all(app.get(j).state is State.SUCCEEDED for j in flaky), timeout=60)
    page.click("text=Back to the jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(0)
    page.goto(f"{board.url}/jobs?state=succeeded&task=flaky")
    expect(page.locator("table.jobs tbody tr")).to_have_count(12)
    assert app.get(other).attempt == 1  # not matched, not touched


def test_with_the_stream_cut_the_page_polls_and_says_so(board: Board, page: Page) -> None:
    app = board.errands
    job = app.enqueue("export", {"rows": 60, "pause": 0.1}).id
    wait_until(lambda: app.get(job).state is State.RUNNING, timeout=30)

    def cut(route: Route) -> None:
        route.abort()

    page.route("**/events*", cut)
    page.goto(f"{board.url}/jobs/{job}")
    status = page.locator("#live-status")
    expect(status).to_contain_text("Live updates interrupted")
    expect(status).to_contain_text("refreshing every 3 s")
    screenshot(page, "dashboard-polling")
    page.evaluate("window.__notReloaded = true")
    expect(page.locator(".job-head .state")).to_have_text("succeeded", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True


def test_a_script_in_arguments_renders_as_text(board: Board, page: Page) -> None:
    app = board.errands
    payload = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"
    job = app.enqueue("note", {"text": payload}).id
    wait_until(lambda: finished(app, job), timeout=30)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{board.url}/jobs/{job}")
    expect(page.locator("#args-h + pre")).to_contain_text(payload)
    expect(page.locator("#result-h + pre")).to_contain_text(payload)
    expect(page.locator("ol.log")).to_contain_text(f"noted: {payload}")
    page.goto(f"{board.url}/jobs?q=pwned")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0


def test_the_jobs_list_and_overview_follow_new_jobs_live(board: Board, page: Page) -> None:
    app = board.errands
    page.goto(f"{board.url}/jobs?task=export")
    expect(page.locator("#live-status")).to_have_text("Live")
    expect(page.locator("table.jobs")).to_have_count(0)
    page.evaluate("window.__notReloaded = true")
    job = app.enqueue("export", {"rows": 40, "pause": 0.1}).id
    row = page.locator(f"tr[data-job='{job}']")
    expect(row.locator(".state")).to_have_text("running", timeout=30_000)
    expect(row.locator(".message")).to_contain_text("exported row")
    expect(row.locator(".state")).to_have_text("succeeded", timeout=60_000)
    expect(row.locator(".message")).to_have_text("exported row 40 of 40")
    assert page.evaluate("window.__notReloaded") is True

    page.goto(f"{board.url}/")
    succeeded = page.locator("[data-count=succeeded]")
    expect(succeeded).to_have_text("1")
    page.evaluate("window.__notReloaded = true")
    app.enqueue("export", {"rows": 1})
    expect(succeeded).to_have_text("2", timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True


def test_the_keyboard_reaches_everything(board: Board, page: Page) -> None:
    job = board.errands.enqueue("export", {"rows": 1}, delay=3600).id
    page.goto(f"{board.url}/jobs")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type(str(job))
    page.keyboard.press("Enter")
    expect(page.locator(".exact")).to_contain_text(f"#{job}")
    page.goto(f"{board.url}/jobs/{job}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("button:text('Cancel')").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".job-head .state")).to_have_text("cancelled")
