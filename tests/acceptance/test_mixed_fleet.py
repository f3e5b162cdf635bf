"""A mixed fleet: apps that know different tasks share one store and one queue. Workers claim
only the tasks they know; a job no live worker knows waits, and says why, but never fails."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import psycopg

from errands import Errands, JobContext, State, WorkerConfig
from errands.job import JobError, NewJob, Outcome
from errands.stores import Store, open_store
from errands.stores.base import WorkerInfo
from errands.stores.sqlfiles import load_queries
from errands.web import create_app
from tests.apps.fleet import fleet_a, fleet_b
from tests.helpers import errands_cli, serve, spawn_worker, wait_until


def producer(url: str) -> Errands:
    """The test's own handle on the store; it knows the tasks of both apps (as a web app might)."""
    app = Errands(url)
    app.tasks.update(fleet_a.tasks)
    app.tasks.update(fleet_b.tasks)
    return app


def new(task: str, **fields: object) -> NewJob:
    return NewJob(task=task, args_json="{}", **fields)  # type: ignore[arg-type]


# -- the claim --------------------------------------------------------------------------------


def test_a_claim_with_task_names_returns_only_jobs_of_those_tasks(store: Store) -> None:
    ids = {task: [store.enqueue(new(task, queue=q))[0].id for q in ("default", "other")] for task in "abc"}
    assert {j.task for j in store.claim("w", ["default", "other"], 10, ["a", "c"]).jobs} == {"a", "c"}
    assert store.claim("w", None, 10, ["a", "c"]).jobs == []  # taken already
    assert store.claim("w", None, 10, []).jobs == []  # a worker that knows nothing claims nothing
    assert [j.id for j in store.claim("w", ["other"], 10, ["b"]).jobs] == [ids["b"][1]]
    assert [j.id for j in store.claim("w", None, 10).jobs] == [ids["b"][0]]  # no names: any task, as before


def test_a_claim_by_task_keeps_priority_order_across_tasks(store: Store) -> None:
    low = store.enqueue(new("a", priority=1))[0]
    high = store.enqueue(new("b", priority=9))[0]
    mid = store.enqueue(new("a", priority=5))[0]
    store.enqueue(new("c", priority=99))
    for queues in (None, ["default"]):
        claimed = store.claim("w", queues, 2, ["a", "b"]).jobs
        assert [j.id for j in claimed] == [high.id, mid.id]
        store.settle([Outcome(j.id, j.lease_token or "", State.QUEUED, released=True) for j in claimed])
    assert [j.id for j in store.claim("w", None, 3, ["a", "b"]).jobs] == [high.id, mid.id, low.id]


def test_has_ready_and_count_retrying_look_only_at_the_given_tasks(store: Store) -> None:
    store.enqueue(new("b", queue="q"))
    assert store.ready(None).due and store.ready(["q"]).due
    assert not store.ready(None, ["a"]).due and not store.ready(["q"], ["a"]).due
    assert store.ready(None, ["a", "b"]).due and store.ready(["q"], ["b"]).due
    [job] = store.claim("w", None, 1, ["b"]).jobs
    store.settle([Outcome(job.id, job.lease_token or "", State.SCHEDULED, error=JobError("E", "x"), retry_in=60)])
    assert store.ready(None, retrying=True).retrying == 1 and store.ready(None, ["b"], retrying=True).retrying == 1
    assert (store.ready(None, ["a"], retrying=True).retrying == 0
            and store.ready(["q"], ["a"], retrying=True).retrying == 0)


def test_workers_record_the_tasks_they_know(store: Store) -> None:
    store.register_worker(WorkerInfo("w1", "host", 1, (), 4, tasks=("a", "b")))
    store.register_worker(WorkerInfo("w0", "host", 2, ("q",), 1))  # from before tasks were recorded
    assert {w.id: w.tasks for w in store.workers()} == {"w1": ("a", "b"), "w0": None}


def test_the_claim_reads_the_task_indexes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    open_store(url).close()
    conn = sqlite3.connect(tmp_path / "plan.db")
    finished = [("a", "succeeded")] * 20000 + [("c", "queued")] * 20000  # jobs this claim must not read
    conn.executemany("INSERT INTO jobs (task, queue, args, state, run_at, created_at)"
                     " VALUES (?, 'default', '{}', ?, 0, 0)", finished)
    conn.execute("ANALYZE")
    queries = load_queries("sqlite")
    params = {"worker_id": "w", "lease_nonce": "n", "limit": 10, "now": 1e10, "queues": '["default"]',
              "tasks": '["a", "b"]', "skip_queues": "[]", "skip_tasks": "[]"}
    plans = {}
    for name in ("claim_tasks", "claim_any_queue_tasks", "has_ready_tasks", "has_ready_any_queue_tasks"):
        rows = conn.execute(f"EXPLAIN QUERY PLAN {queries[name]}", params).fetchall()
        plans[name] = "\n".join(r[-1] for r in rows)
    conn.close()
    assert "USING INDEX jobs_ready_task (queue=? AND task=?)" in plans["claim_tasks"], plans
    assert "USING INDEX jobs_ready_task (queue=? AND task=?)" in plans["claim_any_queue_tasks"], plans
    assert "jobs_ready_task" in plans["has_ready_tasks"], plans
    assert "USING INDEX jobs_ready_task (queue=? AND task=?)" in plans["has_ready_any_queue_tasks"], plans
    for plan in plans.values():
        assert "SCAN jobs" not in plan and "SCAN j " not in plan, plans


def test_the_claim_reads_the_task_indexes_on_postgres(postgres_url: str) -> None:
    open_store(postgres_url).close()
    queries = {name: sql.replace("{schema}", "errands").replace("{channel}", "'x'")
               for name, sql in load_queries("postgres").items()}
    params = {"worker_id": "w", "lease_nonce": "n", "limit": 10, "now": 1e10, "queues": '["q1"]', "tasks": '["a", "b"]',
              "skip_queues": "[]", "skip_tasks": "[]"}
    plans = {}
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "INSERT INTO errands.jobs (task, queue, args, state, run_at, created_at, finished_at)"
            " SELECT 'a', 'default', '{}', 'succeeded', 0, 0, 0 FROM generate_series(1, 50000)"
        )
        conn.execute(
            "INSERT INTO errands.jobs (task, queue, args, state, run_at, created_at)"
            " SELECT chr(97 + i % 4), 'q' || (i % 3), '{}', 'queued', 0, 0 FROM generate_series(1, 40000) AS i"
        )
        conn.execute("ANALYZE errands.jobs")
        for name in ("claim_tasks", "claim_any_queue_tasks", "has_ready_tasks", "has_ready_any_queue_tasks"):
            plans[name] = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {queries[name]}", params).fetchall())
        conn.rollback()
    assert "jobs_ready_queue_task" in plans["claim_tasks"], plans["claim_tasks"]
    assert "jobs_ready_task" in plans["claim_any_queue_tasks"], plans["claim_any_queue_tasks"]
    for plan in plans.values():
        assert "using jobs_ready" in plan and "Seq Scan on jobs" not in plan, plans


# -- real worker processes --------------------------------------------------------------------


def test_two_apps_on_one_queue_run_every_job_of_each_once(store_url: str, tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    ids: dict[str, list[int]] = {}
    for task, count in (("a", 150), ("b", 150), ("both", 100)):  # interleaved in one queue
        ids[task] = app.enqueue_many(task, [{"path": str(out), "line": f"{task}-{i}"} for i in range(count)])
    workers = [spawn_worker(f"tests.apps.fleet:{name}", store_url, "--burst", "--concurrency", "4")
               for name in ("fleet_a", "fleet_b")]
    for w in workers:
        assert w.wait(180) == 0, w.output()
    runs = [line.split() for line in out.read_text().splitlines()]
    assert len(runs) == 400 and len({line for line, _ in runs}) == 400  # every job ran, none twice
    ran_by = {line: fleet for line, fleet in runs}
    assert {ran_by[f"a-{i}"] for i in range(150)} == {"fleet_a"}
    assert {ran_by[f"b-{i}"] for i in range(150)} == {"fleet_b"}
    assert app.stats()["default"] == {"succeeded": 400}  # none failed
    every = [i for group in ids.values() for i in group]
    assert {(app.get(i).attempt, app.get(i).error) for i in every[::20]} == {(1, None)}
    for w in workers:
        assert "UnknownTask" not in w.output() and "unknown task" not in w.output()
    app.close()


def test_a_job_no_live_worker_knows_waits_and_says_why(store_url: str, tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    worker_a = spawn_worker("tests.apps.fleet:fleet_a", store_url, "--concurrency", "2")
    try:
        waiting = app.enqueue("b", {"path": str(out), "line": "b-0"})
        done = app.enqueue("a", {"path": str(out), "line": "a-0"})  # enqueued after b, runs before it
        wait_until(lambda: app.get(done.id).state is State.SUCCEEDED, 60, "the job worker A knows")
        assert app.get(waiting.id).state is State.QUEUED and app.get(waiting.id).attempt == 0
        reason = "no live worker knows task 'b'"

        shown = errands_cli("status", str(waiting.id), "--url", store_url)
        assert shown.returncode == 0 and f"waiting   {reason}" in shown.stdout, shown.stdout + shown.stderr
        as_json = errands_cli("status", str(waiting.id), "--json", "--url", store_url)
        assert json.loads(as_json.stdout)["waiting_reason"] == reason
        assert "waiting" not in errands_cli("status", str(done.id), "--url", store_url).stdout

        server, url = serve(create_app(app))
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                assert client.get(f"/api/jobs/{waiting.id}").json()["waiting_reason"] == reason
                assert "waiting_reason" not in client.get(f"/api/jobs/{done.id}").json()
                stats = client.get("/api/stats").json()
        finally:
            server.should_exit = True
        assert stats["unserved"] == [{"queue": "default", "task": "b", "jobs": 1, "reason": reason}]
        [live] = stats["workers"]
        assert set(live["tasks"]) >= {"a", "both"} and "b" not in live["tasks"]
        assert any(t.startswith("errands.") for t in live["tasks"])  # notifications are claimed too

        worker_b = spawn_worker("tests.apps.fleet:fleet_b", store_url, "--burst")  # the deploy that adds b
        assert worker_b.wait(120) == 0, worker_b.output()
        ran = app.get(waiting.id)
        assert ran.state is State.SUCCEEDED and ran.attempt == 1
        assert app.store.unserved() == []
    finally:
        worker_a.terminate()
        assert worker_a.wait(60) == 0, worker_a.output()
    assert "b-0 fleet_b" in out.read_text()
    app.close()


def test_a_claimed_job_whose_task_is_gone_goes_back_to_wait_without_failing(app: Errands) -> None:
    @app.task(name="short_lived")
    def short_lived(ctx: JobContext) -> None: ...

    job = short_lived.enqueue()
    worker = app.worker(WorkerConfig(burst=True, concurrency=1))
    del app.tasks["short_lived"]  # after the worker listed its tasks: the only way left to claim it
    worker.run()
    left = app.get(job.id)
    assert left.state is State.SCHEDULED and left.attempt == 0  # the attempt does not count
    assert left.error is not None and left.error.type == "UnknownTask"
    assert "does not know task 'short_lived'" in left.error.message
    released = [e.data for e in app.events(job.id) if e.state is State.SCHEDULED][0]
    assert released is not None and released["reason"].startswith("released")
