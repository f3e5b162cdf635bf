"""`errands demo`: a web page showing what errands is for, served with the dashboard and the API.

Here: the demo's tasks, the local SMTP server that receives its mail, the page's two small
endpoints and the command. The page itself is web/templates/demo.html with web/static/demo.*;
it follows each job as any user's page would, through errands.js and the job's follow URL.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import logging
import os
import secrets
import signal
import smtplib
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import click
import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from ..app import Errands
from ..context import JobContext
from ..job import Job
from ..settings import Settings
from ..web import create_app
from ..worker import WorkerConfig

WEB = Path(__file__).resolve().parents[1] / "web"
ASSETS = {"demo.css": "text/css", "demo.js": "text/javascript", "dashboard.css": "text/css"}  # one look with it
TASKS = ("demo.wait", "demo.fail", "demo.export_csv", "demo.newsletter")
NEWSLETTER_FROM = "newsletter@demo.errands.test"
NOTIFY_TO = "you@demo.errands.test"
SUBSCRIBERS = 10_000
NEWSLETTER_BATCH = 100
EXPORT_ROWS = 200_000
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Kind:
    """One button of the page: the task it starts, with which arguments."""

    label: str
    task: str
    args: dict[str, Any]
    notify: bool = False  # also email the local inbox when it ends
    unique_key: str | None = None  # one at a time: a second click returns the running one


KINDS = {
    "short": Kind("5-second job", "demo.wait", {"seconds": 5}),
    "medium": Kind("30-second job", "demo.wait", {"seconds": 30}),
    "long": Kind("2-minute job", "demo.wait", {"seconds": 120}),
    "failing": Kind("Job that fails", "demo.fail", {"service": "payments-api"}),
    "export": Kind("Export to CSV", "demo.export_csv", {"rows": EXPORT_ROWS}, notify=True),
    "newsletter": Kind("Send newsletter", "demo.newsletter", {"subscribers": SUBSCRIBERS}, notify=True,
                       unique_key="demo-newsletter"),
}


# -- the tasks ------------------------------------------------------------------------------

def subscriber(n: int) -> str:
    return f"reader{n:05d}@subscribers.errands.test"


def register_tasks(app: Errands, smtp_port: int) -> None:
    """The demo's tasks, each a small example of writing one: progress, checkpoints, files."""

    @app.task(name="demo.wait")
    def wait(ctx: JobContext, seconds: float) -> dict[str, float]:
        """Work of a known length, reporting progress four times a second."""
        steps = max(1, int(seconds * 4))
        for step in range(1, steps + 1):
            time.sleep(seconds / steps)
            ctx.progress(step, steps, f"{(steps - step) / 4:.0f} s left")
        return {"seconds": seconds}

    @app.task(name="demo.fail", retries=1, backoff=1.0)
    def fail(ctx: JobContext, service: str) -> None:
        """Fails every time: one retry a second later, then failed with its error and traceback."""
        ctx.progress(1, 3, f"calling {service}")
        time.sleep(1.0)
        raise ConnectionError(f"{service} answered 503 Service Unavailable")

    @app.task(name="demo.export_csv")
    def export_csv(ctx: JobContext, rows: int) -> dict[str, Any]:
        """A CSV built in chunks with progress, then saved as the job's file `export.csv`."""
        out = io.StringIO()
        out.write("id,customer,plan,amount,created\n")
        plans = ("free", "team", "business")
        for start in range(0, rows, 10_000):
            end = min(rows, start + 10_000)
            out.writelines(f"{i},customer-{i % 7919:04d},{plans[i % 3]},{i * 37 % 10_000 / 100:.2f},"
                           f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}\n" for i in range(start + 1, end + 1))
            ctx.progress(end, rows, f"{end:,} of {rows:,} rows")
            time.sleep(0.15)  # a real export waits on its database; this one would be too quick to watch
        data = out.getvalue().encode()
        ctx.save_file("export.csv", data, "text/csv")
        return {"rows": rows, "bytes": len(data), "file": "export.csv"}

    @app.task(name="demo.newsletter", retries=3, backoff=2.0)
    def newsletter(ctx: JobContext, subscribers: int) -> dict[str, int]:
        """Sends in batches and saves a checkpoint after each one: stopped, it resumes at the
        last checkpoint, so at most one batch is sent twice and nobody is skipped."""
        sent = int((ctx.checkpoint or {}).get("sent", 0))
        while sent < subscribers:
            end = min(subscribers, sent + NEWSLETTER_BATCH)
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
                for n in range(sent, end):
                    ctx.progress(n, subscribers, f"sent {n:,} of {subscribers:,}")  # raises when stopping
                    smtp.send_message(newsletter_message(ctx.job_id, subscriber(n + 1)))
            ctx.save_checkpoint({"sent": end})
            sent = end
            ctx.progress(sent, subscribers, f"sent {sent:,} of {subscribers:,}")
            time.sleep(0.1)
        return {"sent": subscribers}


def newsletter_message(job_id: int, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = NEWSLETTER_FROM
    message["To"] = to
    message["Subject"] = "errands news: jobs you can watch"
    message["X-Newsletter-Job"] = str(job_id)
    message.set_content("Hello,\n\nthis message was sent by a resumable errands job.\n")
    return message


# -- the local SMTP server ------------------------------------------------------------------

class Mailbox:
    """What the demo's SMTP server received: one row per recipient of each message, in a SQLite
    file in the demo's folder (so a test, or you, can count them). Written from aiosmtpd's thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.execute("CREATE TABLE IF NOT EXISTS received (recipient TEXT NOT NULL, kind TEXT NOT NULL, "
                         "job INTEGER, subject TEXT, at REAL NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS received_job ON received (job, recipient)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        job = headers.get("X-Newsletter-Job")
        kind = "newsletter" if envelope.mail_from == NEWSLETTER_FROM else "notification"
        rows = [(r, kind, int(job) if job and job.isdigit() else None, headers.get("Subject"), time.time())
                for r in envelope.rcpt_tos]
        with self._lock:
            self._db.executemany("INSERT INTO received VALUES (?, ?, ?, ?, ?)", rows)
        return "250 Message accepted for delivery"

    def summary(self) -> dict[str, Any]:
        """The latest newsletter's reach and the last notification emails."""
        with self._lock:
            last = self._db.execute("SELECT max(job) FROM received WHERE kind = 'newsletter'").fetchone()[0]
            reach = self._db.execute("SELECT count(DISTINCT recipient), count(*) FROM received WHERE job = ?",
                                     (last,)).fetchone()
            mails = self._db.execute("SELECT recipient, subject, at FROM received WHERE kind = 'notification' "
                                     "ORDER BY rowid DESC LIMIT 5").fetchall()
        return {
            "newsletter": None if last is None else {"job": last, "reached": reach[0], "messages": reach[1]},
            "notifications": [{"to": to, "subject": subject, "at": at} for to, subject, at in mails],
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()


def start_smtp(mailbox: Mailbox) -> tuple[Any, int]:
    """aiosmtpd on a free loopback port, in its own thread; returns (controller, port)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        raise click.ClickException("the demo needs aiosmtpd: pip install 'errands[demo]' (scripts/demo does)") from None
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the page and its endpoints -------------------------------------------------------------

def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def loopback_host(request: Request) -> bool:
    """The Host names this machine (a page on a name rebound to 127.0.0.1 sends its own name)."""
    host = request.headers.get("host", "").rsplit(":", 1)[0].strip("[]").lower()
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request, *, post: bool) -> str | None:
    """Why this request is refused, or None. Every one must name a loopback host (DNS rebinding);
    a POST must also be JSON (no cross-site form can send it) and come from this origin
    (Sec-Fetch-Site and Origin, when the browser sends them)."""
    if not loopback_host(request):
        return "the demo answers loopback host names only (127.0.0.1, localhost)"
    if not post:
        return None
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return "send Content-Type: application/json"
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request refused"
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return "cross-origin request refused"
    return None


def refused(why: str) -> Response:
    return secure(JSONResponse({"error": {"code": "refused", "message": why}}, status_code=403))


class Site:
    """The demo page, its endpoints and the errands web app mounted beside them."""

    def __init__(self, errands: Errands, mailbox: Mailbox) -> None:
        self.errands = errands
        self.mailbox = mailbox
        self.pages = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/", self.page),
            Route("/demo/jobs", self.start, methods=["POST"]),
            Route("/demo/inbox", self.inbox),
            Route("/demo/static/{name}", self.asset),
            Mount("/", create_app(self.errands)),  # the API, the dashboard, errands.js
        ])

    def row(self, job: Job, label: str) -> dict[str, Any]:
        """What the page shows of a job before errands.js takes over (and without JavaScript)."""
        fraction = 1.0 if job.state.value == "succeeded" else job.progress.fraction or 0.0
        return {"id": job.id, "label": label, "state": job.state.value, "follow_url": self.errands.follow_url(job.id),
                "percent": round(fraction * 100), "message": job.progress.message or "",
                "error": f"{job.error.type}: {job.error.message}" if job.error and job.state.value == "failed" else ""}

    async def page(self, request: Request) -> Response:
        if (why := refusal(request, post=False)) is not None:
            return refused(why)
        recent = await asyncio.to_thread(self.recent_jobs)
        html = self.pages.get_template("demo.html").render(jobs=recent, kinds=KINDS, subscribers=SUBSCRIBERS,
                                                            batch=NEWSLETTER_BATCH, rows=EXPORT_ROWS)
        return secure(HTMLResponse(html))

    def recent_jobs(self) -> list[dict[str, Any]]:
        labels = {(k.task, json.dumps(k.args, sort_keys=True)): k.label for k in KINDS.values()}
        jobs = [j for j in self.errands.list_jobs(limit=200) if j.task in TASKS][:30]
        return [self.row(j, labels.get((j.task, json.dumps(j.args, sort_keys=True)), j.task)) for j in jobs]

    async def start(self, request: Request) -> Response:
        if (why := refusal(request, post=True)) is not None:
            return refused(why)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        name = body.get("kind") if isinstance(body, dict) else None
        kind = KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            message = f"kind must be one of {', '.join(KINDS)}"
            return secure(JSONResponse({"error": {"code": "invalid", "message": message}}, status_code=422))
        notify = {"email": NOTIFY_TO, "on": ["succeeded", "failed"]} if kind.notify else None
        job = await self.errands.enqueue_async(kind.task, kind.args, notify=notify, unique_key=kind.unique_key)
        return secure(JSONResponse(self.row(job, kind.label), status_code=201))

    async def inbox(self, request: Request) -> Response:
        if (why := refusal(request, post=False)) is not None:
            return refused(why)
        return secure(JSONResponse(await asyncio.to_thread(self.mailbox.summary)))

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise HTTPException(404, f"no asset named {name!r}")
        return secure(Response((WEB / "static" / name).read_bytes(), media_type=ASSETS[name],
                               headers={"Cache-Control": "no-cache"}))


# -- the command ----------------------------------------------------------------------------

def prepare_folder(folder: Path, fresh: bool) -> None:
    """Create the demo's folder; with `fresh`, delete the demo's own files in it (never anything else)."""
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        for name in ("demo.db", "mailbox.db"):
            for suffix in ("", "-wal", "-shm"):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
    (folder / ".gitignore").write_text("*\n")  # the demo's data never ends up in a commit
    secret = folder / "secret"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(32))


def check_port(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise click.ClickException(f"port {port} is in use: try --port {port + 1}") from None


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=Path(".errands-demo"),
              show_default=True, help="Where the demo keeps its SQLite store and its mailbox; kept between runs.")
@click.option("--fresh", is_flag=True, help="Start over: delete the folder's jobs and mail first.")
def demo(port: int, folder: Path, fresh: bool) -> None:
    """Serve the demo page, the dashboard and the API on http://127.0.0.1:PORT, with a worker
    and a local SMTP server in this process. Ctrl-C stops it; unfinished jobs go back to the
    queue with their checkpoints, and the next run resumes them."""
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    check_port(port)
    folder = folder.resolve()
    prepare_folder(folder, fresh)
    base = f"http://127.0.0.1:{port}"
    os.environ.setdefault("ERRANDS_SECRET", (folder / "secret").read_text())  # follow URLs outlive a restart
    mailbox = Mailbox(folder / "mailbox.db")
    controller, smtp_port = start_smtp(mailbox)
    settings = Settings.from_env(smtp_url=f"smtp://127.0.0.1:{smtp_port}?from=errands-demo@demo.errands.test",
                                 base_url=base)
    errands = Errands(f"sqlite:///{folder / 'demo.db'}", settings=settings)
    register_tasks(errands, smtp_port)
    worker = errands.start_worker(WorkerConfig(concurrency=8, grace=2.0))
    click.echo(f"errands demo: {base}/   (dashboard {base}/dashboard/, API {base}/api/)")
    click.echo(f"store {errands.url}; mail received is counted in {mailbox.path}. Ctrl-C to stop.")
    # uvicorn handles SIGINT/SIGTERM itself, then raises the signal again once it has shut
    # down; a no-op handler underneath lets this process release its jobs and exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    try:
        uvicorn.run(Site(errands, mailbox).app(), host="127.0.0.1", port=port, log_level="warning",
                    timeout_graceful_shutdown=2)
    finally:
        worker.stop()
        controller.stop()
        mailbox.close()
        errands.close()
    click.echo("errands demo stopped; unfinished jobs were released and resume on the next run.")


COMMANDS = [demo]
