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
UNTOLD_WAIT_S = 1.0  # a holder that has not written its role yet (it took the lock a moment ago) is given this
SNAPSHOT_ROLE = "snapshot"  # the role a sessions snapshot writes into the lock file


@contextlib.contextmanager
def backup_dir_lock(
    backup_dir: Path, *, wait_s: float = 0, role: str = "run", snapshot_wait_s: float = 0
) -> Iterator[None]:
    """Hold an exclusive flock on BACKUP_DIR/.afirgen-backup.lock, or raise LockBusy: at once, or once another
    run has held it for `wait_s` seconds more (a frequent sessions snapshot waits out a short full run), or
    `snapshot_wait_s` when the holder is a sessions snapshot (a full run never gives way to one)."""
    with exclusive_lock(
        backup_dir / LOCK_NAME,
        "another backup_database.py run",
        "when it has finished",
        wait_s,
        role=role,
        snapshot_wait_s=snapshot_wait_s,
    ):
        yield


@contextlib.contextmanager
def exclusive_lock(
    path: Path, holder_is: str, try_again: str, wait_s: float = 0, *, role: str = "", snapshot_wait_s: float = 0
) -> Iterator[None]:
    """Hold an exclusive flock on `path`, or raise LockBusy naming `holder_is` when it is still held after
    `wait_s` seconds (`snapshot_wait_s` while the holder says it is a sessions snapshot). Tried every
    LOCK_POLL_S: a blocking flock could not be given up at a deadline, and a signal meanwhile must still end the
    wait. Once held, the lock file says our pid and `role`."""
    fd = open_lock_file(path)
    try:
        began = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid, holder_role = read_holder(fd)
                patience = snapshot_wait_s if holder_role == SNAPSHOT_ROLE else wait_s
                if pid is None and snapshot_wait_s:
                    patience = max(patience, UNTOLD_WAIT_S)  # it may be a snapshot that has not said so yet
                if time.monotonic() - began >= patience:
                    raise LockBusy(
                        f"{holder_is} holds the lock {path}{describe_holder(pid, holder_role, patience)}; "
                        f"try again {try_again}"
                    ) from None
            time.sleep(min(LOCK_POLL_S, UNTOLD_WAIT_S / 4) if pid is None else LOCK_POLL_S)
        write_holder(fd, role)
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


def describe_holder(pid: int | None, role: str, waited: float) -> str:
    """` (pid N, a sessions snapshot) (waited S s)`, the parts that are known."""
    who = f" (pid {pid}{', a sessions snapshot' if role == SNAPSHOT_ROLE else ''})" if pid is not None else ""
    return who + (f" (waited {waited:g} s)" if waited else "")


def write_holder(fd: int, role: str = "") -> None:
    """Leave our pid (and role) in the lock file, for the message of a run that finds the lock busy and for a
    full run that waits for a sessions snapshot.

    Only a courtesy: the flock is the lock, so failing to write the pid (say on a full disk) never stops a run.
    """
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {role}".strip().encode() + b"\n")


def read_holder(fd: int) -> tuple[int | None, str]:
    """(pid, role) the holder wrote, (None, "") when it wrote nothing readable (yet)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        words = os.pread(fd, 64, 0).decode().split()
        return int(words[0]), (words[1] if len(words) > 1 and words[1].isalpha() else "")
    return None, ""


def current_holder(path: Path) -> tuple[int | None, str] | None:
    """Who holds the lock now, found without taking it (status only reads): None when no process holds a flock on
    the file, which /proc/locks tells by the file's device and inode; else the (pid, role) the holder wrote. Where
    /proc/locks cannot be read or the file is not found in it (a file system that reports another device), None:
    the caller then assumes nobody holds it."""
    info = lstat_or_none(path)
    if info is None or not stat.S_ISREG(info.st_mode):
        return None
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as listing:
            held = any(
                fields[1:2] == ["FLOCK"] and fields[5:6] == [wanted]
                for fields in (line.split() for line in listing)  # a waiter's line has "->" in field 1
            )
    except OSError:
        return None
    if not held:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | SAFE_FLAGS)
    except OSError:
        return None, ""
    try:
        return read_holder(fd)
    finally:
        os.close(fd)
