"""/metrics' job counts: waiting and running jobs counted at every scrape through their partial
indexes, finished jobs (a scan of them all) at most once every `finished_every` seconds."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from errands import Errands
from errands.web.metrics import Metrics
from tests.helpers import drain
from tests.web.conftest import define_tasks


def job_counts(metrics: Metrics) -> dict[str, dict[str, int]]:
    """errands_jobs as scraped: {queue: {state: n}}."""
    out: dict[str, dict[str, int]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            if sample.name == "errands_jobs":
                out.setdefault(sample.labels["queue"], {})[sample.labels["state"]] = int(sample.value)
    return out


def test_finished_jobs_are_counted_at_most_once_per_period(app: Errands) -> None:
    define_tasks(app)
    for rows in range(3):
        app.enqueue("export", {"rows": rows})
    app.enqueue("export", {"rows": 9}, queue="other")
    drain(app)
    waiting = app.enqueue("export", {"rows": 1}, queue="later", delay=3600)
    app.enqueue("export", {"rows": 2}, queue="later")
    cached, fresh = Metrics(app.store, finished_every=3600), Metrics(app.store, finished_every=0)
    first = app.stats()
    assert job_counts(cached) == job_counts(fresh) == first
    assert first["default"] == {"succeeded": 3} and first["later"] == {"scheduled": 1, "queued": 1}

    app.enqueue("export", {"rows": 3})
    drain(app, queues=["default", "other"])  # one more succeeded job in "default"
    app.cancel(waiting.id)
    now = app.stats()
    assert now["default"] == {"succeeded": 4} and now["later"] == {"cancelled": 1, "queued": 1}
    assert job_counts(fresh) == now
    assert job_counts(cached) == {"default": {"succeeded": 3}, "other": {"succeeded": 1}, "later": {"queued": 1}}
