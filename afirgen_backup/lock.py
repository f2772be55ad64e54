"""One lock for every entry point that writes or deletes in BACKUP_DIR: flock, released by the kernel on a crash."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from afirgen_backup.errors import LockBusy

LOCK_NAME = ".afirgen-backup.lock"


@contextlib.contextmanager
def backup_dir_lock(backup_dir: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on BACKUP_DIR/.afirgen-backup.lock, or raise LockBusy at once."""
    path = backup_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(fd)
            raise LockBusy(
                f"another backup_database.py run holds the lock {path}{holder}; try again when it has finished"
            ) from None
        write_holder(fd)
        yield
    finally:
        os.close(fd)


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
