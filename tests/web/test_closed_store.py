"""A PostgreSQL store used after `app.close()` says so (StoreClosed, not psycopg_pool's PoolClosed), and
an SSE hub polling it then stops quietly instead of dying with an exception nobody reads."""

from __future__ import annotations

import asyncio

import pytest

from errands import Errands, StoreClosed
from errands.web.events import EventHub


def test_a_closed_postgres_store_is_refused_clearly_and_its_hub_stops(postgres_url: str) -> None:
    app = Errands(postgres_url)
    store = app.store
    hub = EventHub(store, poll_interval=0.01)

    async def scenario() -> BaseException | None:
        await hub.subscribe()  # the hub's task now polls the event log
        task = hub._task
        assert task is not None and not task.done()
        app.close()
        await asyncio.wait_for(asyncio.shield(task), timeout=20)
        return task.exception()

    assert asyncio.run(scenario()) is None
    with pytest.raises(StoreClosed, match="closed"):
        store.get(1)  # (the app itself opens a new store on its next call)
