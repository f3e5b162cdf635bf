"""Contract of the schedule calls, on every store: saving keeps a schedule's pause and history,
firing stores each fire time once however many callers race, missed fire times are skipped or
caught up once, paused schedules do not fire."""

from __future__ import annotations

import threading

import pytest

from errands.job import NewJob, State
from errands.schedules import NewSchedule, Timing
from errands.stores import Store
from tests.helpers import wait_until


def every_second(name: str = "tick", catch_up: bool = False) -> NewSchedule:
    return NewSchedule(name, Timing(every=1), NewJob(task="tick", args_json='{"n": 1}', queue="periodic"), catch_up)


def test_a_saved_schedule_is_listed_and_saving_again_keeps_its_pause(store: Store) -> None:
    saved = store.save_schedule(every_second())
    assert (saved.name, saved.task, saved.args, saved.queue, saved.paused) == ("tick", "tick", {"n": 1}, "periodic",
                                                                              False)
    assert saved.next_fire is not None and saved.next_fire > saved.created_at
    paused = store.change_schedule("tick", "pause")
    assert paused is not None and paused.paused and paused.next_fire is None
    again = store.save_schedule(NewSchedule("tick", Timing(cron="*/5 * * * *", timezone="Europe/Paris"),
                                            NewJob(task="tick", args_json="{}"), origin="code"))
    assert again.paused and again.timing.cron == "*/5 * * * *" and again.created_at == saved.created_at
    assert [s.name for s in store.schedules()] == ["tick"]


def test_each_fire_time_is_stored_once_however_many_callers_race(store: Store) -> None:
    store.save_schedule(every_second())
    start = threading.Barrier(8)
    stored: list[int] = []

    def fire() -> None:
        start.wait()
        stored.append(store.fire_schedules(ahead=5, grace=30))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jobs = store.list_jobs(task="tick", limit=100)
    slots = sorted(j.scheduled_for.timestamp() for j in jobs if j.scheduled_for is not None)
    assert sum(stored) == len(jobs) == len(slots) >= 4
    assert slots == [slots[0] + i for i in range(len(slots))]  # consecutive seconds, none twice
    assert all(j.run_at == j.scheduled_for and j.queue == "periodic" for j in jobs)
    assert store.fire_schedules(ahead=5, grace=30) <= 1  # only a second that began meanwhile
    assert store.schedules()[0].last_job_id == max(j.id for j in store.list_jobs(task="tick", limit=100))


@pytest.mark.parametrize("catch_up", [False, True])
def test_missed_fire_times_are_skipped_or_caught_up_once(store: Store, catch_up: bool) -> None:
    created = store.save_schedule(every_second(catch_up=catch_up)).created_at.timestamp()
    wait_until(lambda: store.now() > created + 3.5, message="three fire times to pass")
    stored = store.fire_schedules(ahead=0, grace=0)  # every fire time so far is past its grace
    jobs = store.list_jobs(task="tick", limit=100)
    assert stored == len(jobs) == (1 if catch_up else 0)
    if catch_up:  # the latest missed fire time, once
        (job,) = jobs
        assert job.state == State.QUEUED and job.scheduled_for is not None
        assert created + 2 < job.scheduled_for.timestamp() <= store.now()
    assert store.fire_schedules(ahead=0, grace=0) <= 1
    assert store.schedules()[0].fired_until.timestamp() > created + 2  # type: ignore[union-attr]


def test_a_paused_schedule_does_not_fire_and_resumes_from_now(store: Store) -> None:
    created = store.save_schedule(every_second()).created_at.timestamp()
    store.change_schedule("tick", "pause")
    wait_until(lambda: store.now() > created + 1.5, message="a fire time to pass")
    assert store.fire_schedules(ahead=2, grace=30) == 0
    resumed = store.change_schedule("tick", "resume")
    assert resumed is not None and not resumed.paused and resumed.fired_until is not None
    assert resumed.fired_until.timestamp() >= created + 1.5  # the paused fire times are not missed ones
    assert store.fire_schedules(ahead=2, grace=30) >= 1
    assert all(j.scheduled_for is not None and j.scheduled_for.timestamp() > created + 1.5
               for j in store.list_jobs(task="tick"))


def test_removing_forgets_the_schedule_and_unknown_names_give_none(store: Store) -> None:
    store.save_schedule(every_second())
    store.fire_schedules(ahead=2, grace=30)
    removed = store.change_schedule("tick", "remove")
    assert removed is not None and removed.name == "tick"
    assert store.schedules() == []
    assert store.change_schedule("tick", "pause") is None
    assert store.change_schedule("nope", "remove") is None
    store.save_schedule(every_second())  # the same name again starts afresh: no fire row stands in its way
    assert store.fire_schedules(ahead=2, grace=30) >= 1
