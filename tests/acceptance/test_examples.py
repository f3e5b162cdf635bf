"""The examples under examples/, run for real."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from errands import Errands, State
from examples import newsletter
from tests.helpers import spawn_worker, wait_until

NEWSLETTER = "examples.newsletter:app"


def test_newsletter_survives_kill_9_with_no_subscriber_skipped_and_at_most_one_batch_twice(
        store_url: str, tmp_path: Path) -> None:
    app = Errands(store_url)
    app.tasks.update(newsletter.app.tasks)
    outbox = tmp_path / "outbox.txt"
    job = app.enqueue("send_newsletter", {"issue": "Nov", "outbox": str(outbox), "pause": 0.05})
    first = spawn_worker(NEWSLETTER, store_url, "--maintenance-interval", "0.5")
    wait_until(lambda: (app.get(job.id).checkpoint or {}).get("sent", 0) >= 1500, message="three batches sent")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = app.get(job.id).checkpoint["sent"]
    second = spawn_worker(NEWSLETTER, store_url, "--maintenance-interval", "0.5")
    try:
        done = app.wait(job.id, timeout=120)
    finally:
        second.terminate()
        second.wait(30)
    assert done.state is State.SUCCEEDED and done.result == {"sent": 10_000} and done.worker_losses == 1
    sent = Counter(outbox.read_text().splitlines())
    assert set(sent) == {f"Nov -> subscriber-{n}" for n in range(10_000)}  # nobody skipped
    twice = [line for line, n in sent.items() if n > 1]
    assert len(twice) <= 500 and all(n <= 2 for n in sent.values())  # at most one batch sent twice
    assert killed_at < 10_000
    assert any("resuming after" in str(e.data) for e in app.events(job.id))
