"""A worker run in the foreground by a framework's own command line (`flask errands worker`,
`manage.py errands_worker`), stopped like `errands worker`: gracefully on SIGTERM or SIGINT,
at once on a second signal.
"""

from __future__ import annotations

from ..app import Errands
from ..worker import WorkerConfig, logs
from ..worker.signals import stop_on_signals


def run_worker(errands: Errands, config: WorkerConfig) -> None:
    """Run jobs until SIGTERM/SIGINT (or, with `burst`, until nothing is left)."""
    # Frameworks rarely configure the root logger; without this, a worker says nothing.
    logs.configure("INFO")
    runner = errands.worker(config)
    with stop_on_signals(runner):
        runner.run()
