"""One line describing where the benchmark ran: cores, load, versions, the temp folder's file system."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path

from benchmarks.procs import ROOT


def load_average() -> float:
    return os.getloadavg()[0]


def filesystem(path: Path) -> str:
    try:
        out = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True, check=True)
        return out.stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown file system"


def source_revision(root: Path) -> str:
    """The commit errands' source is at, marked when src/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown revision"
    return f"{head.stdout.strip() or 'unknown revision'}{' + uncommitted changes in src/' if dirty.stdout else ''}"


def describe(base: Path, load_before: float) -> str:
    return (
        f"{os.cpu_count()} cores, load average {load_before:.2f} before and {load_average():.2f} after; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, errands {version('errands')} "
        f"({source_revision(ROOT)}), huey {version('huey')}; databases in {base} ({filesystem(base)})."
    )
