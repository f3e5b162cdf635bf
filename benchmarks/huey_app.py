"""The huey instance `huey_consumer benchmarks.huey_app.huey` loads: its database comes from `BENCH_HUEY_DB`."""

from __future__ import annotations

import os

from benchmarks.huey_tasks import DB_ENV, make_huey

huey, record_task = make_huey(os.environ[DB_ENV])
