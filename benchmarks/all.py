"""Every workload of issue 12 on both stores, against the fastest peer, in one command:

    .venv/bin/python benchmarks/all.py                                # full size, about 10 minutes
    .venv/bin/python benchmarks/all.py --jobs 1000 --big-rows 20000   # quick run
    .venv/bin/python benchmarks/all.py --only sqlite --skip-big       # iterate on one store

Progress goes to standard error; the markdown report (one table, then the details) to standard
output. `--write-readme` also puts the table between the README's `<!-- bench:start -->` and
`<!-- bench:end -->` markers. Exits 1 when a check failed (a job lost or run twice, a worker crashed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable, as the workers see it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.all_report import render  # noqa: E402
from benchmarks.all_suite import STORES, AllOptions, run_all  # noqa: E402
from benchmarks.machine import load_average  # noqa: E402
from benchmarks.pg_db import DEFAULT_SERVER  # noqa: E402
from benchmarks.procs import ROOT  # noqa: E402
from benchmarks.suite import rounds_option  # noqa: E402

README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="errands on SQLite and PostgreSQL against the fastest peer")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per enqueue and drain run (default 10000)")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="jobs queued or finished in the growth runs")
    parser.add_argument("--memory-jobs", type=int, default=None, help="jobs in the memory run (default 20 × --jobs)")
    parser.add_argument("--only", choices=STORES, default=None, help="run one store only")
    parser.add_argument("--skip-big", action="store_true", help="skip the growth runs and the claim cost")
    parser.add_argument("--skip-memory", action="store_true", help="skip the worker memory run")
    parser.add_argument("--latency-jobs", type=int, default=300, help="jobs in the pick-up latency run")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="how long idle CPU is measured")
    parser.add_argument("--rounds", type=rounds_option, default=3,
                        help="rounds after the first pass; their medians are shown (0: the first pass alone)")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG_SERVER", DEFAULT_SERVER),
        help="a PostgreSQL URL whose user may create databases (default %(default)s)",
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the databases, files and logs go")
    parser.add_argument("--keep", action="store_true", help="keep the databases, output files and worker logs")
    parser.add_argument("--write-readme", action="store_true", help="put the table in README.md between the markers")
    return parser.parse_args(argv)


def write_readme(summary: str, path: Path = README) -> None:
    text = path.read_text()
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{path} has no {START} ... {END} block")
    path.write_text(f"{head}{START}\n{summary}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="errands-all-bench-", dir=args.tmpdir))
    options = AllOptions(
        jobs=args.jobs,
        big_rows=args.big_rows,
        memory_jobs=args.memory_jobs or 20 * args.jobs,
        stores=(args.only,) if args.only else STORES,
        big=not args.skip_big,
        memory=not args.skip_memory,
        latency_jobs=args.latency_jobs,
        idle_seconds=args.idle_seconds,
        rounds=args.rounds,
        server=args.server,
        keep=args.keep,
        base=base,
    )
    if load_average() > 0.5:
        print(f"warning: load average is {load_average():.2f}; other work skews the figures", file=sys.stderr)
    try:
        results = run_all(options)
    finally:
        if args.keep:
            print(f"files kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    summary, full = render(options, results)
    print(full)
    if args.write_readme:
        write_readme(summary)
    return 1 if any(s.problems for s in results) else 0


if __name__ == "__main__":
    sys.exit(main())
