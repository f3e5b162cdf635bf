"""Worker processes: start them in their own session, stop them by id, and read their CPU time from /proc."""

from __future__ import annotations

import compileall
import functools
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Workers:
    """A group of worker processes started together (each may fork children of its own)."""

    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def all_exited(self) -> bool:
        return all(p.poll() is not None for p in self.procs)

    def wait(self, timeout: float) -> bool:
        """Wait for every process to exit on its own; False on timeout."""
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT each process group (graceful for both systems), then SIGKILL what is left."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGINT)
        if not self.wait(timeout):
            for proc in self.procs:
                _signal_group(proc, signal.SIGKILL)
            self.wait(5.0)

    def failures(self) -> list[str]:
        """Non-zero exit codes, with the tail of that process's log."""
        return [
            f"pid {p.pid} exited {p.returncode}: {_tail(log)}"
            for p, log in zip(self.procs, self.logs, strict=True)
            if p.returncode not in (0, None)
        ]


def start(commands: Sequence[Sequence[str]], env: Mapping[str, str], log_dir: Path) -> Workers:
    """Start each command from the repository root, output to a log file, in its own session."""
    compile_checkout()
    procs, logs = [], []
    for i, command in enumerate(commands):
        log = log_dir / f"worker-{i}.log"
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    list(command),
                    cwd=ROOT,
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        logs.append(log)
    return Workers(procs, logs)


@functools.cache
def compile_checkout() -> None:
    """Write the bytecode of errands and of these benchmarks, once per run.

    pip compiles an installed package's bytecode (the peers' and a user's errands); this editable
    checkout has none, and with PYTHONDONTWRITEBYTECODE (set on this machine) every worker process
    would compile errands' modules from source again: about 60 ms of each worker's start-up.
    """
    for folder in (ROOT / "src" / "errands", ROOT / "benchmarks"):
        compileall.compile_dir(folder, quiet=1)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)  # the group this runner created for the process (start_new_session)
        except ProcessLookupError:
            pass


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pids: Sequence[int]) -> list[int]:
    """The given processes and every process below them (huey's process workers are children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    return sum(cpu_seconds(pid) for pid in descendants(pids))


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS in /proc/<pid>/status); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
