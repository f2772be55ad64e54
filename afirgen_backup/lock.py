"""One lock for every entry point that writes or deletes in BACKUP_DIR: flock, released by the kernel on a crash.

The lock file is opened without following a symbolic link and without blocking on a FIFO: a link, FIFO or
socket named like it stops the command with one line naming it (UnsafeFile), and nothing is written through it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from afirgen_backup.errors import LockBusy
from afirgen_backup.files import SAFE_FLAGS, UnsafeFile, lstat_or_none

LOCK_NAME = ".afirgen-backup.lock"


LOCK_POLL_S = 0.5  # how often a run that may wait for the lock tries again


@contextlib.contextmanager
def backup_dir_lock(backup_dir: Path, *, wait_s: float = 0) -> Iterator[None]:
    """Hold an exclusive flock on BACKUP_DIR/.afirgen-backup.lock, or raise LockBusy: at once, or once another
    run has held it for `wait_s` seconds more (a frequent sessions snapshot waits out a short full run)."""
    with exclusive_lock(backup_dir / LOCK_NAME, "another backup_database.py run", "when it has finished", wait_s):
        yield


@contextlib.contextmanager
def exclusive_lock(path: Path, holder_is: str, try_again: str, wait_s: float = 0) -> Iterator[None]:
    """Hold an exclusive flock on `path`, or raise LockBusy naming `holder_is` when it is still held after
    `wait_s` seconds (tried every LOCK_POLL_S: a blocking flock could not be given up at a deadline, and a
    signal meanwhile must still end the wait)."""
    fd = open_lock_file(path)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held = f"{read_holder(fd)} (waited {wait_s:g} s)" if wait_s else read_holder(fd)
                    raise LockBusy(f"{holder_is} holds the lock {path}{held}; try again {try_again}") from None
            time.sleep(LOCK_POLL_S)
        write_holder(fd)
        yield
    finally:
        os.close(fd)


def open_lock_file(path: Path) -> int:
    """Open (create) the lock file without following a link and without blocking on a FIFO; anything but a
    regular file is refused (UnsafeFile; a directory fails in the open itself, EISDIR)."""
    info = lstat_or_none(path)
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise UnsafeFile(path, info.st_mode, "write")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | SAFE_FLAGS, 0o600)
    except OSError as error:
        swapped = lstat_or_none(path) if error.errno in (errno.ELOOP, errno.ENXIO) else None
        if swapped is not None:
            raise UnsafeFile(path, swapped.st_mode, "write") from None
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise UnsafeFile(path, opened.st_mode, "write")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_holder(fd: int) -> None:
    """Leave our pid in the lock file, for the message of a run that finds the lock busy.

    Only a courtesy: the flock is the lock, so failing to write the pid (say on a full disk) never stops a run.
    """
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())


def read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""
