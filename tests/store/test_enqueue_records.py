"""What an enqueue hands back and writes: the returned job is the stored one in every field (a plain
enqueue makes it from what it inserted, without reading the row back), and every path that inserts
jobs opens each job's history with the same first event, data text included."""

from __future__ import annotations

import dataclasses
import enum
import json
import sqlite3
from typing import Any

import psycopg
import pytest

from errands import BadArguments, Errands
from errands.job import NewJob, Outcome, State
from errands.stores import Store
from errands.stores.postgres import PostgresStore
from tests.helpers import typed


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


EDGES: list[dict[str, Any]] = [
    {"n": 1, "sent": 0.0}, {}, {"a": []}, {"s": "q\"b\\s/\n\t\x01\x7f é 😀 \u2028 \u0000"},
    {"k\"ey\n": {"x": [1, 2.5, -0.0, 1e-07, 1e100, 1.7976931348623157e308, 123456789012345678901234567890, -5]}},
    {"t": True, "f": False, "z": None, "nested": [{"a": {"b": [[], {}]}}]}, {"big": 2**70, "tiny": 5e-324},
]


def args_texts(store: Store, ids: list[int]) -> list[str]:
    sql = "SELECT args::text FROM {}jobs WHERE id = ANY(%s) ORDER BY id"
    if store.url.startswith("sqlite"):
        with sqlite3.connect(store.url.split("///", 1)[1]) as conn:
            return [r[0] for r in conn.execute(f"SELECT args FROM jobs WHERE id IN ({','.join(map(str, ids))}) "
                                               "ORDER BY id")]
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url.split("?", 1)[0]) as pg:
        return [r[0] for r in pg.execute(sql.format(f"{store.schema}."), (ids,))]


def test_many_jobs_keep_their_arguments_as_one_by_one_would(app: Errands) -> None:
    @app.task(name="t")
    def t(ctx: object, **args: Any) -> None: ...

    ids = app.enqueue_many(t, EDGES)
    singles = [t.enqueue(**args).id for args in EDGES]
    assert args_texts(app.store, ids) == args_texts(app.store, singles)
    assert [app.get(i).args for i in ids] == [app.get(i).args for i in singles]  # (PostgreSQL reads \u0000 as U+FFFD)
    assert [e.data for i in ids for e in app.events(i)] == [{"task": "t"}] * len(EDGES)


class Level(enum.IntEnum):
    HIGH = 2


class Name(str):
    pass


def test_an_enqueue_returns_the_arguments_as_they_read_back(app: Errands) -> None:
    """A plain enqueue hands back a copy of scalar arguments instead of decoding their JSON
    (`codec.scalar_copy`): it must be what decoding gives, types included, and not the caller's dict."""
    @app.task(name="t")
    def t(ctx: object, **args: Any) -> None: ...

    given: dict[str, Any] = {"level": Level.HIGH, "name": Name("x"), "i": 3, "f": 0.1 + 0.2, "zero": -0.0}
    readable = [args for args in EDGES if "\\u0000" not in json.dumps(args)]  # PostgreSQL reads it as U+FFFD
    for args in [*readable, given]:
        job = app.enqueue("t", args)
        assert typed(job.args) == typed(app.get(job.id).args) == typed(json.loads(json.dumps(args)))
        assert job.args is not args


def test_many_jobs_name_the_item_that_does_not_fit(app: Errands) -> None:
    @app.task(name="t")
    def t(ctx: object, n: int, s: str = "") -> None: ...

    app.settings = dataclasses.replace(app.settings, max_args_bytes=100)
    fine = [{"n": i, "s": "x" * 50} for i in range(40)]  # 2,600 characters in all, each under the limit
    assert len(app.enqueue_many(t, fine)) == 40
    bads: list[tuple[dict[str, Any], str]] = [
        ({"n": 1, "s": "x" * 200}, "over the limit"), ({"n": float("nan")}, "JSON"), ({"n": "1"}, "argument 'n'"),
        ({"m": 1}, "missing a required argument"), ({"n": 1, "m": 1}, "unexpected keyword"), ({"n": object()}, "JSON"),
    ]
    for bad, why in bads:
        with pytest.raises(BadArguments, match=rf"{why}.*\(item 7 of many_args\)"):
            app.enqueue_many(t, [*fine[:7], bad, *fine[7:]])
    assert len(app.list_jobs(limit=1000)) == 40
    with pytest.raises(ValueError, match="unique key"):
        app.store.enqueue_alike(NewJob(task="t", args_json="[{}]", unique_key="k"))


def test_many_jobs_under_one_unique_key_are_one_job(app: Errands) -> None:
    @app.task(name="t")
    def t(ctx: object, n: int) -> None: ...

    ids = app.enqueue_many(t, [{"n": 1}, {"n": 2}], unique_key="k")
    assert ids[0] == ids[1] and app.get(ids[0]).args == {"n": 1}


def test_many_jobs_alike_count_a_delay_from_their_creation(app: Errands) -> None:
    @app.task(name="t")
    def t(ctx: object, n: int) -> None: ...

    later = [app.get(i) for i in app.enqueue_many(t, [{"n": 1}, {"n": 2}], delay=45)]
    now = [app.get(i) for i in app.enqueue_many(t, [{"n": 3}], delay=0)]
    assert [j.state for j in later + now] == [State.SCHEDULED, State.SCHEDULED, State.QUEUED]
    assert all(abs((j.run_at - j.created_at).total_seconds() - 45) < 0.001 for j in later)
    assert now[0].run_at == now[0].created_at
    assert [[e.state for e in app.events(j.id)] for j in later + now] == [[State.SCHEDULED]] * 2 + [[State.QUEUED]]
