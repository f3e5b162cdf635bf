"""Real servers and workers for the integration tests: child processes on free ports with their
output in files, a uvicorn server in a thread, and a Server-Sent Events reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.helpers import ROOT, free_port, wait_until

DJANGO_PROJECT = ROOT / "examples" / "django_project"
FINISHED = {"succeeded", "failed", "cancelled"}


@dataclass
class Child:
    """A child process whose output goes to a file (a pipe could fill up and block it)."""

    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` and return the exit code; kill -9 and fail if it does not exit in time."""
        if self.running():
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"process {self.popen.pid} ignored signal {sig} for {timeout}s:\n{self.output()}")


SPAWNED: list[Child] = []  # every child of this test run, for `kill_leftovers`


def spawn(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Child:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **env}
    with log.open("wb") as out:
        popen = subprocess.Popen([sys.executable, *args], env=full_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    child = Child(popen, log)
    SPAWNED.append(child)
    return child


def kill_leftovers() -> None:
    """Kill the children a failed test left running (by their own pids), so none outlives it."""
    while SPAWNED:
        child = SPAWNED.pop()
        if child.running():
            child.popen.kill()
            child.popen.wait()


@dataclass
class WebProcess:
    child: Child
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop_gracefully(self) -> str:
        """SIGTERM, then check uvicorn ran the app's shutdown to its end; returns the log."""
        code = self.child.stop()
        log = self.child.output()
        # uvicorn re-raises the signal after a graceful shutdown, so its status is -SIGTERM.
        assert code in (0, -signal.SIGTERM), log
        assert "Application shutdown complete." in log and "Traceback" not in log, log
        return log


def start_uvicorn(app_ref: str, env: dict[str, str], cwd: Path, log: Path) -> WebProcess:
    """`python -m uvicorn app_ref` on a free port, ready when this returns."""
    port = free_port()
    child = spawn(["-m", "uvicorn", app_ref, "--port", str(port), "--no-access-log"], env, cwd, log)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if not child.running():
            pytest.fail(f"uvicorn {app_ref} exited with {child.popen.returncode}:\n{child.output()}")
        try:
            return httpx.get(f"{url}/errands/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, message=f"uvicorn {app_ref} to answer")
    return WebProcess(child, url)


class ThreadServer:
    """uvicorn serving an ASGI app in a thread of this process, with its lifespan."""

    def __init__(self, app: Any) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), message="uvicorn to start")
        assert self.server.started, "uvicorn did not start (see the log above)"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()


def sse(client: httpx.Client, url: str, timeout: float = 30) -> Iterator[dict[str, Any]]:
    """The events of a Server-Sent Events stream, decoded, until the server ends it."""
    with client.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


def states_until_finished(client: httpx.Client, events_url: str) -> list[str]:
    """The state changes a job's event stream reports, up to its final state."""
    states = []
    for event in sse(client, events_url):
        if event["kind"] == "state":
            states.append(event["state"])
            if event["state"] in FINISHED:
                break
    return states


def events_url(follow_url: str) -> str:
    """errands.js's rule: the job URL's /events, with the same query (the follow token)."""
    path, _, query = follow_url.partition("?")
    return f"{path}/events?{query}"
