"""Every child process an integration test starts is gone when the test ends, pass or fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.live import kill_leftovers


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    yield
    kill_leftovers()
