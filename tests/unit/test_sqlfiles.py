"""`sqlfiles.positional`: a statement's `:name` parameters as `?` ones, and their values in order."""

from __future__ import annotations

import sqlite3

import pytest

from errands.stores.sqlfiles import load_queries, positional


def test_named_and_positional_statements_store_the_same_row() -> None:
    sql = load_queries("sqlite")["enqueue_job"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE jobs (task, queue, priority, args, state, max_attempts, run_at, created_at, notify, "
                 "timeout, lease_seconds, max_worker_losses)")
    names = ["task", "queue", "priority", "args", "state", "max_attempts", "run_at", "now", "notify", "timeout",
             "lease_seconds", "max_worker_losses"]
    params = {name: f"{name}-value" for name in reversed(names)}  # the mapping's order does not matter
    text, values = positional(sql)
    assert ":" not in text and text.count("?") == len(names)
    conn.execute(sql, params)
    conn.execute(text, values(params))
    named, ordered = conn.execute("SELECT * FROM jobs").fetchall()
    assert named == ordered == tuple(f"{name}-value" for name in names)


def test_one_parameter_gives_a_tuple_and_strings_and_casts_stay() -> None:
    text, values = positional("SELECT ':not_one', x::text, :only")
    assert text == "SELECT ':not_one', x::text, ?"
    assert values({"only": 5}) == (5,)
    with pytest.raises(ValueError):
        positional("SELECT 1")
