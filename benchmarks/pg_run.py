"""Run the PostgreSQL benchmarks: `.venv/bin/python benchmarks/pg_run.py [--jobs N]`.

errands, pgqueuer and procrastinate run the same workloads, one after another, on the same server,
in one database created for this run (`errands_bench_<pid>`) and dropped at the end. Progress goes
to standard error; the markdown report to standard output. Exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable, as the workers see it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import load_average, source_revision  # noqa: E402
from benchmarks.pg_db import DEFAULT_SERVER, Database, describe_server, fresh_database  # noqa: E402
from benchmarks.pg_report import render  # noqa: E402
from benchmarks.pg_suite import PgOptions, PgResults, run_all  # noqa: E402
from benchmarks.procs import ROOT  # noqa: E402
from benchmarks.suite import rounds_option  # noqa: E402


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = PgOptions()
    parser = argparse.ArgumentParser(description="errands vs pgqueuer vs procrastinate on PostgreSQL")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per enqueue and drain run (default 10000)")
    parser.add_argument("--latency-jobs", type=int, default=300, help="jobs in the pick-up latency run")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="milliseconds between latency jobs")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="how long idle CPU is measured")
    parser.add_argument("--rounds", type=rounds_option, default=3,
                        help="rounds after the first pass; their medians are shown (0: the first pass alone)")
    parser.add_argument(
        "--concurrency",
        type=_ints,
        default=defaults.concurrency,
        help="errands --concurrency values tried in the drain (default 16,32,64)",
    )
    parser.add_argument(
        "--procrastinate-concurrency",
        type=_ints,
        default=defaults.procrastinate_concurrency,
        help="procrastinate --concurrency values tried in the drain (default 50,100)",
    )
    parser.add_argument(
        "--pgqueuer-batch", type=int, default=defaults.pgqueuer_batch, help="pgqueuer batch_size (default 100)"
    )
    parser.add_argument(
        "--claim-sizes",
        type=_ints,
        default=None,
        help="finished jobs in the table for the claim cost (default 10000,1000000; scaled down with --jobs)",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG_SERVER", DEFAULT_SERVER),
        help="a PostgreSQL URL whose user may create databases (default %(default)s)",
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where output files and worker logs go")
    parser.add_argument("--keep", action="store_true", help="keep the database, output files and worker logs")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace, base: Path) -> PgOptions:
    scale = args.jobs / 10_000
    sizes = args.claim_sizes or (max(1_000, round(10_000 * scale)), max(10_000, round(1_000_000 * scale)))
    return PgOptions(
        jobs=args.jobs,
        latency_jobs=args.latency_jobs,
        gap=args.gap_ms / 1000,
        idle_seconds=args.idle_seconds,
        rounds=args.rounds,
        concurrency=args.concurrency,
        procrastinate_concurrency=args.procrastinate_concurrency,
        pgqueuer_batch=args.pgqueuer_batch,
        claim_sizes=tuple(sizes),
        base=base,
    )


def describe(db: Database, load_before: float) -> str:
    versions = ", ".join(f"{name} {version(name)}" for name in ("pgqueuer", "procrastinate", "asyncpg", "psycopg"))
    return (
        f"{os.cpu_count()} cores, load average {load_before:.2f} before and {load_average():.2f} after; "
        f"Python {platform.python_version()}, {describe_server(db)}, errands {version('errands')} "
        f"({source_revision(ROOT)}), {versions}."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="errands-pg-bench-", dir=args.tmpdir))
    options = options_from(args, base)
    load_before = load_average()
    if load_before > 0.5:
        print(
            f"warning: load average is {load_before:.2f}; other work on this machine skews the figures", file=sys.stderr
        )
    results: PgResults
    try:
        with fresh_database(args.server, keep=args.keep) as db:
            print(f"database {db.name}; files in {base}", file=sys.stderr)
            results = run_all(options, db)
            machine = describe(db, load_before)
    finally:
        if args.keep:
            print(f"files kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(render(options, results, machine))
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
