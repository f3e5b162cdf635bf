"""`errands pause Q`, `errands resume Q` and `errands queues` (table and JSON), and a clear
error for a bad queue name."""

from __future__ import annotations

import json

from errands import Errands
from tests.helpers import errands_cli


def test_a_queue_is_paused_listed_and_resumed_from_the_command_line(store_url: str) -> None:
    Errands(store_url).store.now()  # a migrated store
    paused = errands_cli("pause", "exports", "--by", "ops", "--url", store_url)
    assert paused.returncode == 0 and paused.stdout.strip() == "queue exports paused by ops"
    (listed,) = json.loads(errands_cli("queues", "--json", "--url", store_url).stdout)
    assert (listed["kind"], listed["name"], listed["paused"], listed["paused_by"]) == ("queue", "exports", True, "ops")
    table = errands_cli("queues", "--url", store_url)
    assert table.returncode == 0 and "exports" in table.stdout and "by ops at" in table.stdout
    resumed = errands_cli("resume", "exports", "--url", store_url)
    assert resumed.returncode == 0 and resumed.stdout.strip() == "queue exports resumed"
    assert "no limits or pauses" in errands_cli("queues", "--url", store_url).stdout
    bad = errands_cli("pause", "", "--url", store_url)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: queue must be 1 to 200 characters, not ''"
