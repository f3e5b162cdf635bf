"""Continuations: a follow-up job waits in the store for its parent, runs only after the parent
succeeded (with its result), and is cancelled when the parent does not succeed."""

from __future__ import annotations

import pytest

from errands import Errands, JobContext, JobNotFound, State
from tests.helpers import drain


def pipeline_app(store_url: str) -> Errands:
    app = Errands(store_url)

    @app.task(name="fetch")
    def fetch(ctx: JobContext, rows: int, fail: bool = False) -> dict[str, int]:
        if fail:
            raise RuntimeError("source unavailable")
        return {"rows": rows}

    @app.task(name="summarize")
    def summarize(ctx: JobContext, label: str) -> str:
        return f"{label}: {ctx.parent_result['rows']} rows"

    return app


def test_a_continuation_runs_only_after_its_parent_succeeded(store_url: str) -> None:
    app = pipeline_app(store_url)
    parent = app.enqueue("fetch", {"rows": 7})
    child = app.then(parent.id, "summarize", {"label": "march"})
    assert app.get(child.id).state is State.SCHEDULED and child.parent_id == parent.id
    drain(app, concurrency=1)
    done = app.get(child.id)
    assert done.state is State.SUCCEEDED and done.result == "march: 7 rows"
    assert app.get(parent.id).finished_at <= done.started_at  # type: ignore[operator]
    queued_reason = [e.data for e in app.events(child.id) if e.state is State.QUEUED]
    assert queued_reason == [{"reason": f"parent job {parent.id} succeeded"}]


def test_continuations_are_cancelled_down_the_chain_when_the_parent_fails(store_url: str) -> None:
    app = pipeline_app(store_url)
    parent = app.enqueue("fetch", {"rows": 1, "fail": True})
    child = app.enqueue("summarize", {"label": "x"}, after=parent.id)
    grandchild = app.then(child.id, "summarize", {"label": "y"})
    drain(app)
    assert app.get(parent.id).state is State.FAILED
    for job in (child, grandchild):
        cancelled = app.get(job.id)
        assert cancelled.state is State.CANCELLED and cancelled.started_at is None
        assert cancelled.error is not None and cancelled.error.type == "ParentNotSucceeded"


def test_cancelling_a_waiting_parent_cancels_its_continuation(store_url: str) -> None:
    app = pipeline_app(store_url)
    parent = app.enqueue("fetch", {"rows": 1})
    child = app.then(parent.id, "summarize", {"label": "x"})
    app.cancel(parent.id)
    assert app.get(child.id).state is State.CANCELLED


def test_continuing_a_parent_that_already_ended(store_url: str) -> None:
    app = pipeline_app(store_url)
    ok, bad = app.enqueue("fetch", {"rows": 3}), app.enqueue("fetch", {"rows": 3, "fail": True})
    drain(app)
    assert app.then(ok.id, "summarize", {"label": "late"}).state is State.QUEUED
    assert app.then(bad.id, "summarize", {"label": "late"}).state is State.CANCELLED
    with pytest.raises(JobNotFound):
        app.then(987654, "summarize", {"label": "orphan"})
    drain(app)
    assert [j.result for j in app.list_jobs(task="summarize", state="succeeded")] == ["late: 3 rows"]
