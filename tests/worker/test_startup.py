"""A worker starts without loading what its jobs do not use: asyncio comes with the first `async def`
task, smtplib and email with the first email sent. Start-up is paid by every deploy, every restart
and every command line (a SQLite worker's imports: 150–180 ms with them, 130–140 ms without)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LAZY = ("asyncio", "smtplib", "email.message")

APP = """
from errands import Errands

app = Errands("sqlite:///{db}")

@app.task(name="plain")
def plain(ctx):
    return 1

@app.task(name="coroutine")
async def coroutine(ctx):
    return 2
"""

WORKER = f"""
import sys
from errands.cli import main

main(["worker", "--app", "jobs_app:app", "--burst", "--log-level", "warning"], standalone_mode=False)
from jobs_app import app
assert app.list_jobs(state="succeeded"), "the job did not run"
print(" ".join(m for m in {LAZY} if m in sys.modules))
"""


def python(folder: Path, script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("task", "loaded"), [("plain", ""), ("coroutine", "asyncio")])
def test_a_worker_loads_asyncio_only_for_async_tasks(tmp_path: Path, task: str, loaded: str) -> None:
    (tmp_path / "jobs_app.py").write_text(textwrap.dedent(APP).format(db=tmp_path / "jobs.db"))
    python(tmp_path, f"from jobs_app import app; app.enqueue({task!r})")  # (a producer loads more: pydantic)
    assert python(tmp_path, WORKER) == loaded
