"""`errands schedules`: the list (table and JSON), pause, resume and remove, and a clear error
with exit code 3 for an unknown schedule."""

from __future__ import annotations

import json

from errands import Errands, JobContext
from tests.helpers import errands_cli


def test_schedules_are_listed_paused_resumed_and_removed(store_url: str) -> None:
    app = Errands(store_url)

    @app.task(name="report")
    def report(ctx: JobContext, day: str) -> None: ...

    app.schedule("daily-report", "report", {"day": "today"}, cron="30 6 * * 1-5", timezone="Europe/Paris")
    app.close()
    table = errands_cli("schedules", "--url", store_url)
    assert table.returncode == 0 and "daily-report" in table.stdout and "30 6 * * 1-5" in table.stdout
    (listed,) = json.loads(errands_cli("schedules", "--json", "--url", store_url).stdout)
    assert (listed["task"], listed["args"], listed["paused"]) == ("report", {"day": "today"}, False)
    paused = errands_cli("schedules", "pause", "daily-report", "--url", store_url)
    assert paused.returncode == 0 and "(paused)" in paused.stdout
    assert json.loads(errands_cli("schedules", "--json", "--url", store_url).stdout)[0]["paused"] is True
    assert "(paused)" not in errands_cli("schedules", "resume", "daily-report", "--url", store_url).stdout
    assert errands_cli("schedules", "remove", "daily-report", "--url", store_url).returncode == 0
    assert "no schedules" in errands_cli("schedules", "--url", store_url).stdout
    missing = errands_cli("schedules", "pause", "daily-report", "--url", store_url)
    assert missing.returncode == 3 and missing.stderr.strip() == \
        "error: no schedule named 'daily-report' (`errands schedules` lists them)"
    assert "Traceback" not in missing.stderr
