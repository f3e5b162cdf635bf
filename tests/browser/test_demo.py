"""The demo page in a real browser, against a real `errands demo` process: jobs move live without
a reload, the failing one shows its error, the CSV export downloads with all its rows, and with the
event stream cut the page falls back to polling. Screenshots go to docs/screenshots/demo-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, Route

from tests.acceptance.test_demo import Demo, running_demo
from tests.browser.conftest import screenshot


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("browser-demo") / "demo") as served:
        yield served
        assert served.interrupt() == 0, served.output()


def open_page(page: Page, demo: Demo) -> list[str]:
    """Load the demo page; returns the list the page's CSP violations and errors will land in."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "events" not in message.text:  # a cut stream logs its own errors
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(demo.url + "/")
    page.evaluate("window.notReloaded = true")
    return problems


def start(page: Page, label: str) -> Locator:
    """Click a button; returns the row of the job it started."""
    with page.expect_response("**/demo/jobs") as answer:
        page.get_by_role("button", name=label).click()
    job = answer.value.json()
    row = page.locator(f'li.job[data-id="{int(job["id"])}"]')
    row.wait_for()
    return row


def progress(row: Locator) -> int:
    return int(row.locator("progress.bar").evaluate("bar => bar.value"))


def test_a_short_job_moves_live_and_succeeds_without_a_reload(page: Page, demo: Demo) -> None:
    problems = open_page(page, demo)
    row = start(page, "Start a 5 s job")
    state = row.locator(".state")
    state.filter(has_text="running").wait_for(timeout=60_000)
    page.wait_for_function("row => row.querySelector('progress.bar').value > 0",
                           arg=row.element_handle(), timeout=60_000)
    first = progress(row)
    assert 0 < first < 100
    screenshot(page, "demo-running")
    page.wait_for_function("([row, before]) => row.querySelector('progress.bar').value > before",
                           arg=[row.element_handle(), first], timeout=60_000)
    state.filter(has_text="succeeded").wait_for(timeout=60_000)
    assert progress(row) == 100
    assert page.locator("#mode").get_attribute("data-mode") == "stream"
    assert page.locator(".toast").filter(has_text="5-second job").count() == 1
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "demo-succeeded")
    assert problems == []


def test_the_failing_job_shows_its_error(page: Page, demo: Demo) -> None:
    problems = open_page(page, demo)
    row = start(page, "Start a job that fails")
    row.locator(".state").filter(has_text="failed").wait_for(timeout=60_000)
    error = row.locator(".job-error")
    assert error.is_visible()
    assert error.text_content() == "ConnectionError: payments-api answered 503 Service Unavailable"
    assert page.locator(".toast").filter(has_text="failed: payments-api").count() == 1
    screenshot(page, "demo-failed")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone
    screenshot(page, "demo-phone")
    assert problems == []


def test_the_csv_export_downloads_200000_rows(page: Page, demo: Demo, tmp_path: Path) -> None:
    problems = open_page(page, demo)
    start(page, "Start a 30 s job")
    row = start(page, "Export to CSV")
    link = row.locator("a.download")
    link.wait_for(timeout=120_000)
    assert row.locator(".state").text_content() == "succeeded"
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "id,customer,plan,amount,created"
    assert len(lines) - 1 == 200_000
    assert lines[-1].startswith("200000,")
    page.locator("#mails li").filter(has_text="succeeded").first.wait_for(timeout=60_000)  # the email arrived
    start(page, "Send newsletter")
    page.locator("#reach").filter(has_text="subscribers reached").wait_for(timeout=60_000)
    page.locator(".toast button").first.click()  # dismissed: the screenshot shows the list beneath
    screenshot(page, "demo")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "demo-dark")
    assert problems == []


def test_with_the_stream_cut_the_page_falls_back_to_polling(page: Page, demo: Demo) -> None:
    cut: list[str] = []

    def refuse(route: Route) -> None:
        cut.append(route.request.url)
        route.abort()

    page.route("**/api/jobs/*/events?*", refuse)
    open_page(page, demo)
    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url) if "/events" not in request.url
            and "/api/jobs/" in request.url else None)
    row = start(page, "Start a 5 s job")
    job_id = row.get_attribute("data-id")
    job_url = f"/api/jobs/{job_id}?token="
    mode = page.locator("#mode")
    page.wait_for_function("() => document.querySelector('#mode').dataset.mode === 'polling'", timeout=30_000)
    assert "polling" in (mode.text_content() or "")
    screenshot(page, "demo-polling")
    row.locator(".state").filter(has_text="succeeded").wait_for(timeout=60_000)
    assert progress(row) == 100
    assert any(f"/api/jobs/{job_id}/events?token=" in url for url in cut), "the stream was never opened, so never cut"
    assert sum(job_url in url for url in reads) >= 3  # read by polling, again and again


COUNT_STREAMS = """
(() => {
  const Real = window.EventSource;
  window.streams = { open: 0, most: 0, urls: [] };
  function Counted(url, options) {
    const source = new Real(url, options);
    const close = source.close.bind(source);
    let closed = false;
    window.streams.open += 1;
    window.streams.urls.push(url);
    window.streams.most = Math.max(window.streams.most, window.streams.open);
    source.close = () => {
      if (!closed) {
        closed = true;
        window.streams.open -= 1;
        window.streams.urls.splice(window.streams.urls.indexOf(url), 1);
      }
      close();
    };
    return source;
  }
  Counted.CONNECTING = Real.CONNECTING; Counted.OPEN = Real.OPEN; Counted.CLOSED = Real.CLOSED;
  window.EventSource = Counted;
})();
"""


def test_many_jobs_at_once_keep_the_page_responsive(page: Page, demo: Demo) -> None:
    """A browser opens about six connections per site: errands.js keeps at most four streams open
    and polls the other jobs, so starting a seventh job still gets an answer."""
    page.add_init_script(COUNT_STREAMS)
    open_page(page, demo)
    rows = [start(page, "Start a 5 s job") for _ in range(7)]
    for row in rows:
        row.locator(".state").filter(has_text="succeeded").wait_for(timeout=120_000)
    streams = page.evaluate("window.streams")
    assert streams["most"] == page.evaluate("errands.maxStreams") == 4
    ids = {f"/api/jobs/{row.get_attribute('data-id')}/events" for row in rows}
    assert not [url for url in streams["urls"] if url.split("?")[0] in ids]  # every finished job's stream closed
