"""Replays a store's event log against job.TRANSITIONS: every state change any test made must be legal.

The store and app fixtures call `assert_legal_history` when a test ends, so the whole suite checks it.
"""

from __future__ import annotations

from errands.job import TRANSITIONS, State
from errands.stores import Store


def illegal_changes(store: Store) -> list[str]:
    last: dict[int, State] = {}
    found: list[str] = []
    after = 0
    while batch := store.events(after=after, limit=5000):
        for event in batch:
            if event.kind != "state" or event.state is None:
                continue
            old = last.get(event.job_id)
            if old is not None and old != event.state and (old, event.state) not in TRANSITIONS:
                found.append(f"job {event.job_id}: {old} -> {event.state} (event {event.id})")
            last[event.job_id] = event.state
        after = batch[-1].id
    return found


def assert_legal_history(store: Store) -> None:
    illegal = illegal_changes(store)
    assert not illegal, "state changes missing from job.TRANSITIONS:\n" + "\n".join(illegal[:20])
