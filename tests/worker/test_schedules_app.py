"""The app's schedule calls refuse bad input with a message, before anything is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from errands import Errands, JobContext
from errands.errors import BadArguments, ScheduleNotFound, UnknownTask


def test_the_app_refuses_bad_schedules_before_storing_anything(tmp_path: Path) -> None:
    app = Errands(f"sqlite:///{tmp_path / 'jobs.db'}")
    with pytest.raises(BadArguments, match="not a cron expression"):
        app.periodic(cron="every day")
    with pytest.raises(BadArguments, match="unknown timezone"):
        app.periodic(every=5, timezone="Paris")

    @app.task
    def report(ctx: JobContext, day: str) -> None: ...

    with pytest.raises(BadArguments, match="schedule name"):
        app.schedule("", report, {"day": "x"}, every=60)
    with pytest.raises(BadArguments, match="missing"):
        app.schedule("daily", report, {}, every=60)
    with pytest.raises(UnknownTask):
        app.schedule("daily", "nope", {}, every=60)
    with pytest.raises(ScheduleNotFound):
        app.pause_schedule("daily")
    assert app.schedules() == []
    app.close()
