"""Unique keys and their policy (return the holder, replace it, raise), alone and under concurrent
enqueuers: 50 threads, and 3 processes, enqueue one key at once; exact counts on both stores."""

from __future__ import annotations

import json
import multiprocessing
import threading
from typing import Any

import pytest

from errands import State, UniqueKeyTaken
from errands.job import NewJob, UniquePolicy
from errands.stores import Store, open_store

THREADS = 50
PROCESSES = 3


def new(n: int, unique: UniquePolicy, key: str = "k") -> NewJob:
    return NewJob(task="t", args_json=json.dumps({"n": n}), unique_key=key, unique=unique)


def unfinished(store: Store, key: str = "k") -> list[Any]:
    return [j for j in store.list_jobs(limit=1000) if j.unique_key == key and not j.finished]


def test_return_gives_the_holder(store: Store) -> None:
    first, created = store.enqueue(new(1, "return"))
    again, created_again = store.enqueue(new(2, "return"))
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.args == {"n": 1}


def test_raise_names_the_holder(store: Store) -> None:
    holder, _ = store.enqueue(new(1, "return"))
    with pytest.raises(UniqueKeyTaken, match=f"unique key 'k' is held by job {holder.id}, which is queued") as caught:
        store.enqueue(new(2, "raise"))
    assert caught.value.job_id == holder.id
    assert [j.id for j in unfinished(store)] == [holder.id]


def test_replace_cancels_the_waiting_holder(store: Store) -> None:
    holder, _ = store.enqueue(new(1, "return"))
    replacement, created = store.enqueue(new(2, "replace"))
    assert created and replacement.id != holder.id and replacement.args == {"n": 2}
    assert store.get(holder.id).state is State.CANCELLED
    assert [j.id for j in unfinished(store)] == [replacement.id]
    last = [e for e in store.events(holder.id) if e.kind == "state"][-1]
    assert (last.state, last.data) == (State.CANCELLED, {"reason": "replaced", "replaced_by": replacement.id})


def test_replace_refuses_a_running_holder(store: Store) -> None:
    store.enqueue(new(1, "return"))
    [running] = store.claim("w", None, 1).jobs
    with pytest.raises(UniqueKeyTaken, match="is running, and a running job is not replaced"):
        store.enqueue(new(2, "replace"))
    assert [j.id for j in unfinished(store)] == [running.id]
    assert store.get(running.id).state is State.RUNNING


def test_replace_without_a_holder_stores_the_job(store: Store) -> None:
    job, created = store.enqueue(new(1, "replace"))
    assert created and [j.id for j in unfinished(store)] == [job.id]


def enqueue_at_once(store: Store, unique: UniquePolicy, barrier: Any, n: int) -> tuple[str, int]:
    """One enqueue after the barrier: ("created" | "returned" | "raised", job id)."""
    barrier.wait()
    try:
        job, created = store.enqueue(new(n, unique))
    except UniqueKeyTaken as exc:
        return "raised", exc.job_id
    return ("created" if created else "returned"), job.id


def check_outcomes(store: Store, unique: UniquePolicy, outcomes: list[tuple[str, int]], submitted: int) -> None:
    kinds = [kind for kind, _ in outcomes]
    [holder] = unfinished(store)
    assert holder.args["n"] in range(submitted)
    jobs = [j for j in store.list_jobs(limit=1000) if j.unique_key == "k"]
    if unique == "replace":  # each enqueue stored its job and cancelled the one before
        assert kinds == ["created"] * submitted
        assert len(jobs) == submitted
        assert sorted(j.args["n"] for j in jobs) == list(range(submitted))
        assert sum(j.state is State.CANCELLED for j in jobs) == submitted - 1
    else:
        assert len(jobs) == 1
        assert kinds.count("created") == 1
        assert kinds.count("returned" if unique == "return" else "raised") == submitted - 1
        assert {job_id for _, job_id in outcomes} == {holder.id}


@pytest.mark.parametrize("unique", ["return", "replace", "raise"])
def test_fifty_threads_enqueue_one_key_at_once(store: Store, unique: UniquePolicy) -> None:
    barrier = threading.Barrier(THREADS)
    outcomes: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            outcomes.append(enqueue_at_once(store, unique, barrier, n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    check_outcomes(store, unique, outcomes, THREADS)


def enqueue_in_a_process(url: str, unique: UniquePolicy, barrier: Any, n: int, results: Any) -> None:
    store = open_store(url)
    try:
        results.put(enqueue_at_once(store, unique, barrier, n))
    finally:
        store.close()


@pytest.mark.parametrize("unique", ["return", "replace", "raise"])
def test_three_processes_enqueue_one_key_at_once(store: Store, store_url: str, unique: UniquePolicy) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    procs = [context.Process(target=enqueue_in_a_process, args=(store_url, unique, barrier, n, results))
             for n in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    check_outcomes(store, unique, outcomes, PROCESSES)
