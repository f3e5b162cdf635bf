"""SIGTERM reaching a worker run from the command line stops it whatever its main thread holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

HELD = """
import os, signal, sys
from errands import Errands, WorkerConfig
from errands.worker.signals import stop_on_signals

worker = Errands(sys.argv[1]).worker(WorkerConfig())
with stop_on_signals(worker):
    with worker._lock:  # the claim loop holds the worker's lock when the signal comes
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100_000):  # the handler runs here, between two instructions of this thread
            pass
    print("stopping" if worker._stopping.wait(10) else "not stopping")
"""


def test_a_signal_while_the_main_thread_holds_the_workers_lock_stops_it(tmp_path: Path) -> None:
    """The handler used to take the worker's lock itself: a signal that came while the claim loop
    held it waited for ever (a worker that never stopped, seen in CI and in a benchmark)."""
    done = subprocess.run([sys.executable, "-c", HELD, f"sqlite:///{tmp_path / 'jobs.db'}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "stopping", done.stdout + done.stderr
