"""Periodic jobs across real worker processes: every fire time of an `every=1` schedule runs exactly
once and none is missed, with workers starting together, a leader SIGKILLed, and a clock off by two
minutes (a run cut short by the kill runs again once rescued, as any job). Counted from the tasks'
own records (a file each run appends its fire time to)."""

from __future__ import annotations

import glob
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg

from errands import Errands, State
from tests.apps.periodic import build
from tests.helpers import WorkerProcess, spawn_worker, wait_until

APP = "tests.apps.periodic:app"
WORKERS = 4
SLOTS = 20  # fire times to watch (every=1: twenty seconds)


def spawn(url: str, out: Path, faketime: str | None = None) -> WorkerProcess:
    """A worker of the periodic app; with `faketime` (an offset such as "+120s"), its clock is off by
    that much. libfaketime is loaded into the worker itself: the `faketime` command runs its program
    as a child, which killing the command would leave running."""
    env = {"ERRANDS_PERIODIC_OUT": str(out)}
    if faketime is not None:
        env |= {"LD_PRELOAD": libfaketime(), "FAKETIME": faketime}
        clock = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env={**os.environ, **env},
                               capture_output=True, text=True, check=True)
        assert abs(float(clock.stdout) - time.time()) > 60, f"FAKETIME={faketime} did not move the clock"
    return spawn_worker(APP, url, env=env)


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    assert found, "libfaketime is missing: scripts/setup installs Debian's faketime"
    return found[0]


def runs(out: Path) -> Counter[int]:
    if not out.exists():
        return Counter()
    return Counter(int(line.split()[0]) for line in out.read_text().splitlines() if line.strip())


def leader_pid(url: str, app: Errands) -> int:
    query = "SELECT owner FROM {}leader_leases WHERE name = 'maintenance'"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            owner = conn.execute(query.format("")).fetchone()[0]
    else:
        with psycopg.connect(url) as conn:
            owner = conn.execute(query.format("errands.")).fetchone()[0]  # type: ignore[index]
    return next(w.pid for w in app.store.workers() if w.id == owner)


def watch(url: str, tmp_path: Path, *, kill_leader: bool = False, skewed: bool = False) -> None:
    """Run the schedule with WORKERS workers until SLOTS fire times ran, pause it, wait for the jobs
    it stored to end, then check every fire time from the first after its creation ran once."""
    out = tmp_path / "runs.txt"
    app = build(url)
    created = app.schedules()[0].created_at.timestamp()
    workers = [spawn(url, out) for _ in range(WORKERS - 1)]
    workers.append(spawn(url, out, "+120s" if skewed else None))
    try:
        if kill_leader:
            wait_until(lambda: len(runs(out)) >= SLOTS // 2, timeout=120, message="half the fire times")
            victim = leader_pid(url, app)
            next(w for w in workers if w.pid == victim).kill()
        wait_until(lambda: len(runs(out)) >= SLOTS, timeout=180, message=f"{SLOTS} fire times")
        app.pause_schedule("tick")
        wait_until(lambda: all(j.finished for j in app.list_jobs(task="tick", limit=1000)), timeout=120,
                   message="the stored fire times to run")
    finally:
        for w in workers:
            w.kill()
            w.wait(30)
    jobs = app.list_jobs(task="tick", limit=1000)
    counted = runs(out)
    # One job per fire time, each run once; a run whose worker was killed after the task wrote its
    # line but before the outcome was recorded runs again once rescued (at least once, as any job).
    rescued = {int(j.scheduled_for.timestamp()) for j in jobs if j.worker_losses and j.scheduled_for is not None}
    assert all(n == 1 or (n == 2 and slot in rescued) for slot, n in counted.items()), counted
    assert all(j.state == State.SUCCEEDED for j in jobs)
    slots = sorted(int(j.scheduled_for.timestamp()) for j in jobs if j.scheduled_for is not None)
    assert sorted(counted) == slots, "a run without its job, or a job without its run"
    assert slots == list(range(math.floor(created) + 1, slots[-1] + 1)), "a fire time was missed"
    assert len(slots) >= SLOTS
    early = [j.id for j in jobs if j.started_at is None or j.scheduled_for is None or j.started_at < j.scheduled_for]
    assert not early, f"jobs started before their fire time (store clock): {early}"
    app.close()


def test_every_fire_time_runs_once_with_workers_starting_together(store_url: str, tmp_path: Path) -> None:
    watch(store_url, tmp_path)


def test_every_fire_time_runs_once_when_the_leader_is_killed(store_url: str, tmp_path: Path) -> None:
    watch(store_url, tmp_path, kill_leader=True)


def test_every_fire_time_runs_once_with_a_worker_two_minutes_ahead(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL's clock decides fire times, leases and due times, so a worker whose own clock is
    off fires nothing early or twice. (SQLite has no clock of its own: its processes share one host
    and its clock; a skewed process there skews the store, see docs/scheduling.md.)"""
    watch(postgres_url, tmp_path, skewed=True)
