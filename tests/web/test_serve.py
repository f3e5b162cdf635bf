"""`errands serve --with-worker`: the API and a worker in one real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from tests.helpers import ROOT, free_port, wait_until


def test_serve_with_worker_runs_jobs_posted_over_http_and_stops_on_sigterm(store_url: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": store_url}
    proc = subprocess.Popen([sys.executable, "-m", "errands", "serve", "--app", "tests.apps.web:app", "--port",
                             str(port), "--with-worker"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=30)
        made = httpx.post(f"{base}/api/jobs", json={"task": "greet", "args": {"name": "Ada"}}).json()
        done = wait_until(lambda: (j := httpx.get(f"{base}/api/jobs/{made['id']}").json())["state"] == "succeeded"
                        and j)
        assert done["result"] == "hello Ada"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0  # it exits on SIGTERM, without a second signal
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert "worker" in output and "stopped" in output
