"""The pgqueuer side: the worker (`python -m benchmarks.pgqueuer_app --batch-size 100 --mode drain`),
its factory `create` and the payload format.

The worker runs `pgqueuer.run(create, ...)`, the function behind `pgq run`: that command line
fails at start with the typer release installed here (`AttributeError: 'str' object has no
attribute 'name'` while it sets up logging), so this module is its stand-in, with pgqueuer's
log level INFO as `pgq run` sets. The worker connects with asyncpg (pgqueuer's own driver) to
`BENCH_PG_DSN`; its tables live in the schema named by `PGQUEUER_SCHEMA`, which pgqueuer reads
itself. The entrypoint is `async` (pgqueuer runs those on its event loop, its fastest path) and
calls the same job body as errands.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
from pgqueuer import PgQueuer, run
from pgqueuer.db import AsyncpgDriver
from pgqueuer.domain.types import QueueExecutionMode
from pgqueuer.models import Job

from benchmarks.tasks import append_line

DSN_ENV = "BENCH_PG_DSN"
ENTRYPOINT = "record"


def payload(n: int, sent: float) -> bytes:
    return f"{n} {sent:.6f}".encode()


def parse_payload(data: bytes | None) -> tuple[int, float]:
    n, sent = (data or b"0 0").decode().split()
    return int(n), float(sent)


@asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    """One asyncpg connection, one entrypoint; the connection closes when the worker stops."""
    connection = await asyncpg.connect(os.environ[DSN_ENV])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint(ENTRYPOINT)
    async def record(job: Job) -> None:
        append_line(*parse_payload(job.payload))

    try:
        yield pgq
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a pgqueuer worker for the benchmark (what `pgq run` does)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--mode", choices=[m.name for m in QueueExecutionMode], default="continuous")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pgqueuer").setLevel(logging.INFO)
    asyncio.run(run(create, batch_size=args.batch_size, mode=QueueExecutionMode[args.mode]))


if __name__ == "__main__":
    main()
