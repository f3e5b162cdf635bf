"""A unique-key enqueue racing with the key holder's finish: never an error, never two holders."""

from __future__ import annotations

import json
import threading

from errands import State
from errands.job import NewJob, Outcome
from errands.stores import Store

ROUNDS = 400


def test_enqueue_with_a_key_whose_holder_keeps_finishing_never_fails(store: Store) -> None:
    errors: list[BaseException] = []
    answers: list[tuple[int, bool]] = []
    producing = threading.Event()
    producing.set()

    def produce() -> None:
        try:
            for _ in range(ROUNDS):
                job, created = store.enqueue(NewJob(task="t", args_json="{}", unique_key="k"))
                answers.append((job.id, created))
        except BaseException as exc:  # noqa: BLE001 - reported below with the others
            errors.append(exc)

    def finish() -> None:
        while producing.is_set():
            for job in store.claim("w", None, 10).jobs:
                store.settle([Outcome(job.id, job.lease_token or "", State.SUCCEEDED, result_json=json.dumps(1))])

    producers = [threading.Thread(target=produce) for _ in range(3)]
    finisher = threading.Thread(target=finish)
    for thread in [*producers, finisher]:
        thread.start()
    for thread in producers:
        thread.join(120)
    producing.clear()
    finisher.join(60)
    assert errors == []
    assert len(answers) == 3 * ROUNDS
    created = {job_id for job_id, was_created in answers if was_created}
    assert {job_id for job_id, _ in answers} == created  # every answer names a job some enqueue created
    unfinished = [j for j in store.list_jobs(limit=1000) if not j.finished]
    assert len(unfinished) <= 1  # never two holders of one key
