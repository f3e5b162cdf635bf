"""Rescue time: how long after a worker is killed with SIGKILL its running job is back in the queue.

Run: .venv/bin/python -m benchmarks.rescue [--maintenance-interval 0.5] [--runs 5]
The job's lease is 1 s (tests/apps/chaos.py `slow_pid`); rescue is bounded by lease + one
maintenance interval, or by the leader lease (two intervals) when the dead worker was the leader.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from errands import Errands, State
from tests.apps import chaos
from tests.helpers import spawn_worker

APP = "tests.apps.chaos:app"


def once(app: Errands, url: str, interval: str) -> float:
    job = app.enqueue("slow_pid", {"seconds": 120})
    victim = spawn_worker(APP, url, "--maintenance-interval", interval)
    while app.get(job.id).state is not State.RUNNING:
        time.sleep(0.01)
    time.sleep(0.3)
    victim.kill()
    victim.wait()
    killed = time.monotonic()
    rescuer = spawn_worker(APP, url, "--maintenance-interval", interval)
    while app.get(job.id).worker_losses < 1:
        time.sleep(0.005)
    elapsed = time.monotonic() - killed
    app.cancel(job.id)
    rescuer.kill()
    rescuer.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--maintenance-interval", default="0.5")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp(prefix='errands-rescue-')}/rescue.db"
    app = Errands(url)
    app.tasks.update(chaos.app.tasks)
    times = [once(app, url, args.maintenance_interval) for _ in range(args.runs)]
    print(f"lease 1 s, maintenance interval {args.maintenance_interval} s, {args.runs} kills: rescued after "
          f"min {min(times):.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s")


if __name__ == "__main__":
    main()
