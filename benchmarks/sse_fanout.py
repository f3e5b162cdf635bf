"""SSE fan-out: 1,000 clients follow every job's events from one `errands serve` process.

Reports events delivered per second (summed over clients), events written per second, and
the store reads per second the server's event hub made for them (one reader per process,
however many clients). Run: .venv/bin/python -m benchmarks.sse_fanout [--clients 1000] [--jobs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import sse_app
from errands import Errands

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def follow(port: int, counts: list[int], index: int, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
    await writer.drain()
    while not stop.is_set():
        line = await reader.readline()
        if not line:
            break
        if line.startswith(b"data:"):
            counts[index] += 1
    writer.close()


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def measure(port: int, clients: int, seconds: float, url: str, jobs: int) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    counts = [0] * clients
    stop = asyncio.Event()
    tasks = [asyncio.create_task(follow(port, counts, i, stop)) for i in range(clients)]
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        while metric((await http.get("/metrics")).text, "errands_event_streams") < clients:
            await asyncio.sleep(0.2)
        producer = Errands(url)
        producer.tasks.update(sse_app.app.tasks)
        producer.enqueue_many("ticker", [{"seconds": seconds + 10}] * jobs)  # progress all through the window
        await asyncio.sleep(3)  # let the jobs start
        reads_before = metric((await http.get("/metrics")).text, "errands_event_hub_reads_total")
        delivered_before, started = sum(counts), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - started
        delivered = sum(counts) - delivered_before
        reads = metric((await http.get("/metrics")).text, "errands_event_hub_reads_total") - reads_before
    stop.set()
    for task in tasks:
        task.cancel()
    return {"clients": clients, "delivered_per_s": delivered / elapsed, "events_per_s": delivered / clients / elapsed,
            "store_reads_per_s": reads / elapsed, "slowest_client_share": min(counts) / max(max(counts), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--jobs", type=int, default=10, help="jobs writing progress (2 events/s each)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="errands-sse-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": f"sqlite:///{folder / 'sse.db'}"}
    server = subprocess.Popen([sys.executable, "-m", "errands", "serve", "--app", "benchmarks.sse_app:app",
                               "--port", str(port)],
                              env=env, stdout=open(folder / "server.log", "w"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen([sys.executable, "-m", "errands", "worker", "--app", "benchmarks.sse_app:app",
                               "--concurrency", str(args.jobs)],
                              env=env, stdout=open(folder / "worker.log", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start; see " + str(folder / "server.log"))
            time.sleep(0.1)
        result = asyncio.run(measure(port, args.clients, args.seconds, env["ERRANDS_URL"], args.jobs))
    finally:
        for proc in (worker, server):
            proc.kill()
            proc.wait(30)
    print(f"SSE fan-out, one server process, {result['clients']:.0f} clients on /api/events, {args.jobs} jobs:")
    print(f"  events written and seen by each client: {result['events_per_s']:.0f}/s")
    print(f"  events delivered, all clients:          {result['delivered_per_s']:.0f}/s")
    print(f"  store reads by the event hub:           {result['store_reads_per_s']:.1f}/s "
          f"(ratio to clients: {result['store_reads_per_s'] / result['clients']:.3f} reads per client per s)")
    print(f"  slowest client got {result['slowest_client_share']:.0%} of what the fastest got")


if __name__ == "__main__":
    main()
