"""Run the whole benchmark suite: `.venv/bin/python benchmarks/run.py [--jobs N]`.

Progress goes to standard error; the markdown report to standard output.
Exits 1 when a check failed (a job lost or run twice, a worker crashed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable, as the workers see it
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe, load_average  # noqa: E402
from benchmarks.report import render  # noqa: E402
from benchmarks.suite import Options, rounds_option, run_all  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="errands vs huey (SqliteHuey) benchmarks")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per enqueue and drain run (default 10000)")
    parser.add_argument("--latency-jobs", type=int, default=300, help="jobs in the pick-up latency run")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="milliseconds between latency jobs")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="how long idle CPU is measured")
    parser.add_argument("--rounds", type=rounds_option, default=3,
                        help="rounds after the first pass; their medians are shown (0: the first pass alone)")
    parser.add_argument(
        "--concurrency",
        default=",".join(map(str, Options.concurrency)),
        help="errands --concurrency values to try in the drain (default %(default)s)",
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the temporary databases go")
    parser.add_argument("--keep", action="store_true", help="keep the databases, output files and worker logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="errands-bench-", dir=args.tmpdir))
    options = Options(
        jobs=args.jobs,
        latency_jobs=args.latency_jobs,
        gap=args.gap_ms / 1000,
        idle_seconds=args.idle_seconds,
        rounds=args.rounds,
        concurrency=tuple(int(k) for k in args.concurrency.split(",")),
        base=base,
    )
    load_before = load_average()
    if load_before > 0.5:
        print(
            f"warning: load average is {load_before:.2f}; other work on this machine skews the figures", file=sys.stderr
        )
    try:
        errands, huey = run_all(options)
        machine = describe(base, load_before)
    finally:
        if args.keep:
            print(f"files kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(render(options, errands, huey, machine))
    return 1 if errands.problems or huey.problems else 0


if __name__ == "__main__":
    sys.exit(main())
