"""Helpers every test layer shares: waiting for a condition, a free port, a live HTTP server in a
thread, the real `errands` command and worker processes. One definition each; fixtures stay in
conftest.py files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from errands import Errands, WorkerConfig

ROOT = Path(__file__).resolve().parent.parent


def typed(value: Any) -> Any:
    """A JSON value with each scalar's type beside it (in plain equality True == 1 == 1.0)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value), value)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'errands.db'}"


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, message: str = "condition",
               explain: Callable[[], str] | None = None, *, interval: float = 0.01,
               ignore: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll `condition` every `interval` seconds until it returns something truthy, and return that;
    fail the test after `timeout`. Exceptions of the `ignore` types count as "not yet" (a server
    that is restarting); on timeout, `explain` says what is left."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}" + (f": {explain()}" if explain else ""))
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(asgi: Any, host: str = "127.0.0.1") -> tuple[uvicorn.Server, str]:
    """Serve `asgi` with uvicorn on a free port, in a daemon thread; return the server and its URL."""
    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(asgi, host=host, port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, timeout=20, message="uvicorn to start")
    return server, f"http://{host}:{port}"


def drain(app: Errands, **config: Any) -> None:
    """Run an in-process worker until nothing is left to do."""
    worker = app.worker(WorkerConfig(burst=True, **{"concurrency": 4, **config}))
    worker.run()


def errands_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
                cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the real `errands` command in a child process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "errands", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


class WorkerProcess(subprocess.Popen[bytes]):
    """A real `errands worker` process whose output goes to a file (a pipe could fill and block it)."""

    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()


def spawn_worker(app_ref: str, url: str, *args: str, env: Mapping[str, str] | None = None) -> WorkerProcess:
    """`errands worker --app app_ref *args` on the store at `url`, with `env` added to ours."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": url, **(env or {})}
    log = tempfile.NamedTemporaryFile(prefix="errands-worker-", suffix=".log", delete=False)
    proc = WorkerProcess([sys.executable, "-m", "errands", "worker", "--app", app_ref, *args],
                         env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = Path(log.name)
    log.close()
    return proc


def _run_ip(command: list[str]) -> str | None:
    """Run one `ip` command; what failed, if it did."""
    done = subprocess.run(command, capture_output=True, text=True)
    return None if done.returncode == 0 else f"{' '.join(command)}: {done.stderr.strip()}"


def make_namespace(namespace: str, host_side: str, ns_side: str, here: str, there: str) -> str | None:
    """A namespace joined to this machine by a veth pair (`here` on this side, `there` inside);
    the first command that failed, if one did."""
    for command in (
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_side, "type", "veth", "peer", "name", ns_side],
        ["ip", "link", "set", ns_side, "netns", namespace],
        ["ip", "addr", "add", f"{here}/30", "dev", host_side],
        ["ip", "link", "set", host_side, "up"],
        ["ip", "netns", "exec", namespace, "ip", "addr", "add", f"{there}/30", "dev", ns_side],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", ns_side, "up"],
    ):
        if problem := _run_ip(command):
            return problem
    return None


def remove_namespace(namespace: str, host_side: str) -> None:
    """Undo make_namespace (deleting the host side removes its veth peer too)."""
    _run_ip(["ip", "link", "del", host_side])
    _run_ip(["ip", "netns", "del", namespace])
