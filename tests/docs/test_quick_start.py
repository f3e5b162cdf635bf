"""The README's quick start, run as a new user would: its jobs.py, then each shell line in order.

Only the port changes (a free one instead of 8000), so the test can run beside other servers.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_until

from .blocks import PAGES, blocks

README = PAGES[0]


def shell_lines() -> list[str]:
    lines = []
    for block in blocks(README, "bash")[1:]:  # the first block is the two commands of this repository
        for line in block.code.splitlines():
            command = line.split("  #")[0].strip()
            if command:
                lines.append(command)
    return lines


def wait_for_health(url: str, server: subprocess.Popen[str]) -> None:
    def healthy() -> bool:
        assert server.poll() is None, "errands serve exited"
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout=30, message=f"{url} to answer")


def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    quick_start = next(b for b in blocks(README, "python") if b.code.startswith("# jobs.py"))
    (tmp_path / "jobs.py").write_text(quick_start.code)
    port = str(free_port())
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(tmp_path)}
    env.pop("ERRANDS_URL", None)
    outputs: list[str] = []
    server: subprocess.Popen[str] | None = None
    try:
        for line in shell_lines():
            line = line.replace("8000", port)
            if line.endswith("&"):
                server = subprocess.Popen(shlex.split(line[:-1]), cwd=tmp_path, env=env, text=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_for_health(f"http://127.0.0.1:{port}/healthz", server)
                continue
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, f"{line!r} failed: {done.stdout}{done.stderr}"
            outputs.append(done.stdout)
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    first_id, status, created, job_view = outputs[0], outputs[2], outputs[3], outputs[4]
    assert first_id.strip() == "1"
    assert "succeeded" in status
    assert '"id":2' in created.replace(" ", "")
    assert '"task":"export"' in job_view.replace(" ", "")
    assert server is not None and server.returncode == 0
