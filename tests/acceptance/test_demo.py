"""`errands demo` as a real process: it serves the page, refuses foreign requests, stops cleanly
on SIGINT, and a newsletter stopped mid-send resumes on the next run without skipping anyone."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from errands import Errands
from tests.helpers import ROOT, errands_cli, free_port, wait_until

SUBSCRIBERS = 10_000


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    url: str
    folder: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def start(self, kind: str) -> dict[str, object]:
        response = httpx.post(f"{self.url}/demo/jobs", json={"kind": kind}, timeout=30)
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(120)


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_demo(folder: Path, *args: str) -> Iterator[Demo]:
    """`errands demo` in a child process on a free port, with its data in `folder`."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"demo-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ERRANDS_SECRET", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "errands", "demo", "--port", str(port), "--folder",
                                 str(folder), *args], env=env, cwd=folder.parent, stdout=out,
                                stderr=subprocess.STDOUT)
    demo = Demo(proc, f"http://127.0.0.1:{port}", folder, log)
    try:
        wait_until(lambda: up(demo.url) or proc.poll() is not None, timeout=60, message="the demo to answer")
        assert proc.poll() is None, demo.output()
        yield demo
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def deliveries(folder: Path, job: int) -> dict[str, int]:
    """Newsletter messages the demo's SMTP server received for `job`, per recipient."""
    with sqlite3.connect(folder / "mailbox.db", timeout=30) as db:
        rows = db.execute("SELECT recipient, count(*) FROM received WHERE kind = 'newsletter' AND job = ? "
                          "GROUP BY recipient", (job,)).fetchall()
    return dict(rows)


def test_demo_serves_the_page_the_api_and_refuses_foreign_posts(tmp_path: Path) -> None:
    with running_demo(tmp_path / "demo") as demo:
        page = httpx.get(f"{demo.url}/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert "Send newsletter" in page.text and "/dashboard/" in page.text
        assert "<script>" not in page.text and " on" + "click=" not in page.text  # no inline script or handler
        assert httpx.get(f"{demo.url}/errands.js").status_code == 200
        assert httpx.get(f"{demo.url}/demo/static/demo.js").status_code == 200
        assert httpx.get(f"{demo.url}/demo/static/secret").status_code == 404
        taken = errands_cli("demo", "--port", demo.url.rsplit(":", 1)[1], "--folder", str(tmp_path / "other"))
        assert taken.returncode == 1 and "is in use: try --port" in taken.stderr and "Traceback" not in taken.stderr

        post = f"{demo.url}/demo/jobs"
        cross_site = httpx.post(post, json={"kind": "short"}, headers={"Origin": "http://evil.example",
                                                                        "Sec-Fetch-Site": "cross-site"})
        assert cross_site.status_code == 403
        rebound = httpx.post(post, json={"kind": "short"}, headers={"Host": "evil.example"})
        assert rebound.status_code == 403
        assert httpx.get(f"{demo.url}/", headers={"Host": "evil.example"}).status_code == 403
        assert httpx.get(f"{demo.url}/demo/inbox", headers={"Host": "evil.example"}).status_code == 403
        form = httpx.post(post, data={"kind": "short"})  # a form needs no preflight: refused
        assert form.status_code == 403
        assert httpx.post(post, json={"kind": "nope"}).status_code == 422
        assert httpx.post(post, content=b"{", headers={"Content-Type": "application/json"}).status_code == 422

        started = demo.start("short")
        follow = str(started["follow_url"])
        assert "token=" in follow
        job = wait_until(lambda: (j := httpx.get(demo.url + follow).json())["state"] == "succeeded" and j,
                         timeout=120, message="the 5 s job to succeed")
        assert job["result"] == {"seconds": 5}
        dashboard = httpx.get(f"{demo.url}/dashboard/jobs?task=demo.wait")  # mounted beside the page
        assert dashboard.status_code == 200 and f"/dashboard/jobs/{started['id']}" in dashboard.text

        # Ctrl-C while a job runs and a browser listens to its event stream: exit 0, job released
        running = demo.start("medium")
        stream = httpx.stream("GET", f"{demo.url}{running['follow_url']}".replace("?", "/events?"), timeout=60)
        with stream as events:
            assert events.status_code == 200
            lines = events.iter_lines()
            wait_until(lambda: "running" in next(lines), timeout=120, message="the 30 s job to run")
            assert demo.interrupt() == 0
    assert "stopped" in demo.output()
    assert "Traceback" not in demo.output()
    store = Errands(f"sqlite:///{demo.folder / 'demo.db'}")
    try:
        released = store.get(int(str(running["id"])))
        assert released.state.value == "queued" and released.error is None  # released, not failed
    finally:
        store.close()


def test_newsletter_stopped_by_sigint_resumes_on_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    with running_demo(folder) as demo:
        job_id = int(str(demo.start("newsletter")["id"]))
        assert int(str(demo.start("newsletter")["id"])) == job_id  # one newsletter at a time
        wait_until(lambda: sum(deliveries(folder, job_id).values()) >= 1_000, timeout=300,
                   message="1,000 newsletter messages")
        assert demo.interrupt() == 0, demo.output()
    sent_before = deliveries(folder, job_id)
    assert len(sent_before) < SUBSCRIBERS, "the send finished before the interrupt: nothing was resumed"

    store = Errands(f"sqlite:///{folder / 'demo.db'}")
    try:
        stopped = store.get(job_id)
        assert stopped.state.value == "queued", stopped  # released, not failed
        assert stopped.error is None
        checkpoint = stopped.checkpoint["sent"]
        assert 0 < checkpoint < SUBSCRIBERS

        with running_demo(folder) as again:
            wait_until(lambda: store.get(job_id).finished, timeout=600, message="the newsletter to finish")
            assert again.interrupt() == 0
        done = store.get(job_id)
        assert done.state.value == "succeeded", done
    finally:
        store.close()

    received = deliveries(folder, job_id)
    expected = {f"reader{n:05d}@subscribers.errands.test" for n in range(1, SUBSCRIBERS + 1)}
    assert set(received) == expected  # every subscriber got it
    assert max(received.values()) <= 2  # none more than twice
    # only the batch in flight at the interrupt was sent again (a batch is 100 messages)
    assert sum(received.values()) - SUBSCRIBERS <= 100
