"""What an enqueue hands back and writes: the returned job is the stored one in every field (a plain
enqueue makes it from what it inserted, without reading the row back), and every path that inserts
jobs opens each job's history with the same first event, data text included."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

import psycopg
import pytest

from errands import Errands
from errands.job import NewJob, Outcome, State
from errands.stores import Store
from errands.stores.postgres import PostgresStore


def same_fields(got: Any, want: Any) -> list[str]:
    """The fields whose value or type differ (SQLite's RETURNING gives a whole REAL as an int: the
    jobs read back from it, with a unique key or a parent, are compared by value)."""
    typed = got.unique_key is None and got.parent_id is None
    return [f.name for f in dataclasses.fields(got) if getattr(got, f.name) != getattr(want, f.name)
            or typed and type(getattr(got, f.name)) is not type(getattr(want, f.name))]


@pytest.mark.parametrize("fields", [
    {},
    {"delay": 30.0},
    {"delay": 0.0},
    {"run_at": 1.0},
    {"run_at": 4e9, "priority": -5, "queue": "q"},
    {"notify_json": '{"webhook":"http://example.test/hook"}', "timeout": 600, "lease_seconds": 20,
     "max_worker_losses": 7, "max_attempts": 4},
    {"unique_key": "k"},
])
def test_the_returned_job_is_the_stored_job(store: Store, fields: dict[str, Any]) -> None:
    job, created = store.enqueue(NewJob(task="t", args_json='{"n":1,"xs":[1,2]}', **fields))
    assert created
    assert same_fields(job, store.get(job.id)) == []


def test_a_continuation_is_returned_as_stored(store: Store) -> None:
    parent, _ = store.enqueue(NewJob(task="t", args_json="{}"))
    child, _ = store.enqueue(NewJob(task="t", args_json="{}", parent_id=parent.id))
    assert same_fields(child, store.get(child.id)) == []


def event_texts(store: Store) -> list[tuple[int, str, str, str]]:
    """(job id, kind, state, data text) of every event, in id order, as stored."""
    sql = "SELECT job_id, kind, state, data::text FROM {}job_events ORDER BY id"
    if store.url.startswith("sqlite"):
        with sqlite3.connect(store.url.split("///", 1)[1]) as conn:
            return conn.execute(sql.format("").replace("::text", "")).fetchall()
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url.split("?", 1)[0]) as pg:
        return pg.execute(sql.format(f"{store.schema}.")).fetchall()


@pytest.mark.parametrize("task", ["t", "café \"quoted\" \\ \t\n"])
def test_every_insert_path_writes_the_same_first_event(store: Store, task: str) -> None:
    text = json.dumps({"task": task}, ensure_ascii=False)
    plain, _ = store.enqueue(NewJob(task=task, args_json="{}"))
    keyed, _ = store.enqueue(NewJob(task=task, args_json="{}", unique_key="k"))
    replacing, _ = store.enqueue(NewJob(task=task, args_json="{}", unique_key="k", unique="replace"))
    child, _ = store.enqueue(NewJob(task=task, args_json="{}", parent_id=plain.id))
    many = store.enqueue_many([NewJob(task=task, args_json="{}"), NewJob(task=task, args_json="{}", delay=60)])
    firsts: dict[int, tuple[str, str, str]] = {}
    for job_id, kind, state, data in event_texts(store):
        firsts.setdefault(job_id, (kind, state, data))
    assert firsts == {
        plain.id: ("state", "queued", text), keyed.id: ("state", "queued", text),
        replacing.id: ("state", "queued", text), child.id: ("state", "scheduled", text),
        many[0]: ("state", "queued", text), many[1]: ("state", "scheduled", text),
    }
    assert [e.state for e in store.events(keyed.id)] == [State.QUEUED, State.CANCELLED]
    [claimed] = store.claim("w", None, 1).jobs
    assert claimed.id == plain.id
    store.settle([Outcome(plain.id, claimed.lease_token or "", State.SUCCEEDED, result_json="1")])
    assert [e.state for e in store.events(child.id)] == [State.SCHEDULED, State.QUEUED]


def test_an_enqueue_without_options_takes_the_tasks_defaults_and_the_current_settings(app: Errands) -> None:
    @app.task(name="t", queue="q", priority=2, retries=1, timeout=9, notify={"webhook": "http://example.test/x"})
    def t(ctx: object) -> None: ...

    first = t.enqueue()
    assert (first.queue, first.priority, first.max_attempts, first.timeout, first.lease_seconds) == ("q", 2, 2, 9.0,
                                                                                                     30.0)
    assert first.notify is not None and first.notify["webhook"] == ["http://example.test/x"]
    app.settings = dataclasses.replace(app.settings, lease=12.0)
    assert t.enqueue().lease_seconds == 12.0
    assert t.enqueue(priority=5).priority == 5 and t.enqueue().priority == 2
