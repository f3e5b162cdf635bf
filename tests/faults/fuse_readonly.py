"""A FUSE passthrough of a folder whose writes can be switched off, as a disk remounted read-only.

Run as `python -m tests.faults.fuse_readonly BACKING MOUNT SWITCH`: MOUNT mirrors BACKING, and while
the file SWITCH exists every write-type operation fails with EROFS (write, truncate, create, unlink,
rename, fsync, open for writing...) on files already open too, while reads keep working. That is what
`mount -o remount,ro` does to a disk, which a tmpfs with open files refuses ("busy").

Tests use `read_only_switch()`: it mounts in a child process and unmounts at the end.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class FuseError(OSError):
    """Raised by an operation: mfusepy answers the kernel with its errno (it catches OSError)."""


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """A write-type operation: EROFS while the switch is on."""
    def call(self: Passthrough, *args: Any) -> Any:
        if os.path.exists(self.switch):
            raise FuseError(errno.EROFS, "read-only")
        return method(self, *args)
    return call


class Passthrough:
    """The operations mfusepy calls (those left out are left out of the mount too)."""

    use_ns = True

    def __init__(self, backing: str, switch: str) -> None:
        self.backing = backing
        self.switch = switch

    def _full(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._full(path)) if fh is None else os.fstat(fh)
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns")
        return {key.replace("_ns", ""): getattr(st, key) for key in keys}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._full(path))]

    def access(self, path: str, amode: int) -> int:
        if amode & os.W_OK and os.path.exists(self.switch):
            raise FuseError(errno.EROFS, "read-only")
        if not os.access(self._full(path), amode):
            raise FuseError(errno.EACCES, "no access")
        return 0

    def statfs(self, path: str) -> dict[str, Any]:
        st = os.statvfs(self._full(path))
        return {key: getattr(st, key) for key in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                  "f_ffree", "f_files", "f_frsize", "f_namemax")}

    def open(self, path: str, flags: int) -> int:
        if flags & WRITE_FLAGS and os.path.exists(self.switch):
            raise FuseError(errno.EROFS, "read-only")
        return os.open(self._full(path), flags)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    @guarded
    def create(self, path: str, mode: int, flags: int) -> int:
        return os.open(self._full(path), flags | os.O_CREAT, mode)

    @guarded
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    @guarded
    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        if fh is None:
            os.truncate(self._full(path), length)
        else:
            os.ftruncate(fh, length)
        return 0

    @guarded
    def fsync(self, path: str, datasync: int, fh: int) -> int:
        (os.fdatasync if datasync else os.fsync)(fh)
        return 0

    @guarded
    def fallocate(self, path: str, mode: int, offset: int, size: int, fh: int) -> int:
        os.posix_fallocate(fh, offset, size)
        return 0

    @guarded
    def unlink(self, path: str) -> int:
        os.unlink(self._full(path))
        return 0

    @guarded
    def rename(self, old: str, new: str) -> int:
        os.rename(self._full(old), self._full(new))
        return 0

    @guarded
    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._full(path), mode)
        return 0

    @guarded
    def rmdir(self, path: str) -> int:
        os.rmdir(self._full(path))
        return 0

    @guarded
    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._full(path), mode)
        return 0

    @guarded
    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._full(path), uid, gid)
        return 0

    @guarded
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._full(path))
        else:
            os.utime(self._full(path), ns=times)
        return 0


def serve(backing: str, mount: str, switch: str) -> None:
    """Mount and serve until unmounted (blocks). The page cache stays on (no direct_io):
    SQLite maps its shared-memory file with mmap."""
    import mfusepy  # type: ignore[import-untyped]  # only in the child: importing it loads libfuse

    mfusepy.FUSE(Passthrough(backing, switch), mount, foreground=True, nothreads=False,
                 fsname="errands-readonly-test")


class FuseUnavailable(Exception):
    """No /dev/fuse, no libfuse, or no right to mount."""


@dataclass
class ReadOnlySwitch:
    """A mounted passthrough: `folder` is where the database goes."""

    folder: Path
    switch: Path

    def read_only(self) -> None:
        self.switch.touch()

    def writable(self) -> None:
        self.switch.unlink(missing_ok=True)


@contextmanager
def read_only_switch(root: Path) -> Iterator[ReadOnlySwitch]:
    """Mount the passthrough under `root`; raise FuseUnavailable with the reason when FUSE cannot mount."""
    backing, mount, switch = root / "backing", root / "mnt", root / "read-only"
    backing.mkdir(parents=True)
    mount.mkdir()
    log = root / "fuse.log"
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "tests.faults.fuse_readonly", str(backing), str(mount),
                                  str(switch)], stdout=out, stderr=subprocess.STDOUT,
                                 cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mount):
            if child.poll() is not None or time.monotonic() > deadline:
                reason = (log.read_text().strip().splitlines() or ["no output"])[-1][-300:]
                raise FuseUnavailable(f"cannot mount a FUSE file system: {reason}")
            time.sleep(0.05)
        yield ReadOnlySwitch(mount, switch)
    finally:
        switch.unlink(missing_ok=True)
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


if __name__ == "__main__":
    serve(*sys.argv[1:4])
