"""`build_job`, the stores' fast way to make a Job: the same record `Job(...)` makes, as frozen."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from errands.job import Job, JobError, NewJob, Progress, State, build_job, build_new_job


def every_field() -> tuple[object, ...]:
    """A value for each field of Job, in order, none of them its default."""
    return (
        7, "export", "reports", 3, {"n": 1}, State.RUNNING, 2, 5, 10.0, 9.0, 11.0, None,
        Progress(1.0, 4.0, "a quarter"), {"page": 2}, None, JobError("KeyError", "x", "tb"), 1, "w-1", 41.0,
        "token", True, "k", {"webhook": "http://example.test/"}, 6, 60.0, 20.0, 4, 8.0,
    )


def test_a_built_job_is_the_job_the_constructor_makes() -> None:
    values = every_field()
    assert len(values) == len(dataclasses.fields(Job))
    built = build_job(*values)
    assert type(built) is Job
    assert built == Job(*values)  # type: ignore[arg-type]
    assert [getattr(built, f.name) for f in dataclasses.fields(Job)] == list(values)
    assert repr(built) == repr(Job(*values))  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(built)) == built


def test_a_built_job_is_frozen() -> None:
    built = build_job(*every_field())
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.state = State.SUCCEEDED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del built.args
    assert dataclasses.replace(built, attempt=3).attempt == 3
    assert built.attempt == 2


def test_a_built_job_needs_the_fields_without_defaults() -> None:
    with pytest.raises(TypeError):
        build_job(*every_field()[:9])  # no created_at
    with pytest.raises(TypeError):
        build_job(*every_field(), 1)  # one value too many


def test_a_built_job_takes_names_and_defaults_as_the_constructor_does() -> None:
    built = build_job(1, "t", "q", 0, {}, State.QUEUED, 0, 1, 10.0, 9.0, lease_seconds=5.0)
    assert built == Job(1, "t", "q", 0, {}, State.QUEUED, 0, 1, 10.0, 9.0, lease_seconds=5.0)
    assert built.progress == Progress() and built.max_worker_losses == 3


def test_a_built_new_job_is_the_new_job_the_constructor_makes() -> None:
    fields = {"task": "t", "args_json": '{"n":1}', "queue": "q", "delay": 2.0, "unique": "raise"}
    built = build_new_job(**fields)
    assert type(built) is NewJob and built == NewJob(**fields)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.queue = "other"  # type: ignore[misc]
