"""A real browser for page tests: Playwright driving Debian's Chromium (headless, no sandbox).

`scripts/setup` installs the `chromium` package; Playwright's own browser download is not used.
Outside CI a missing Chromium skips these tests with one line; under CI=true it fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("ERRANDS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


# Per module, not per session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and asyncio.run() in any later test (test_django_backend's) would then fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: `apt-get install chromium` (scripts/setup does) enables browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as docs/screenshots/NAME.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
