"""Putting a sessions.db backup back: a checked copy beside the target, swapped in without a stale journal.

Who has the target open? SQLite's unix VFS uses POSIX record locks: in WAL mode every open connection holds a
shared lock on the database file's lock bytes and on the `-shm` file, even when idle; in rollback-journal mode
a connection holds a lock only inside a transaction (shared while reading, RESERVED or more while writing).
`find_lock_holders` asks the kernel (F_OFD_GETLK) whether any such lock is held, without taking a lock and
without opening the database with SQLite, which would replay or checkpoint the old `-wal` it is about to
replace. Trying `BEGIN IMMEDIATE` instead would only see a writer in the middle of a transaction.

Why the order of `replace_database`: SQLite replays a `<db>-wal` file (and rolls back a hot `<db>-journal`)
into whatever database file has that name when it next opens it, so the old target's journals are moved
away with the old file before the restored file takes the name; the restored file is never next to them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

from afirgen_backup.archive import fsync_directory
from afirgen_backup.sources.sqlite import JOURNAL_SUFFIXES, integrity_of, sidecar, table_row_counts

LOCK_BYTES_START = 0x40000000  # SQLite's PENDING byte; RESERVED and the SHARED range follow it
LOCK_BYTES_LENGTH = 2 + 510
SHM_LOCKS_START = 120  # the WAL-index locks in -shm: write, checkpoint, recover, 5 readers, DMS
SHM_LOCKS_LENGTH = 9
FLOCK_FORMAT = "hhqqi4x"  # struct flock on 64-bit Linux
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", fcntl.F_GETLK)


def probe_lock(path: Path, start: int, length: int) -> bool:
    """True when some process holds a record lock on [start, start+length) of `path`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        query = struct.pack(FLOCK_FORMAT, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
        answer = fcntl.fcntl(fd, F_OFD_GETLK, query)
        return struct.unpack(FLOCK_FORMAT, answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def find_lock_holders(target: Path) -> list[str]:
    """What shows that a connection has `target` open now (empty when nothing does)."""
    found = []
    if probe_lock(target, LOCK_BYTES_START, LOCK_BYTES_LENGTH):
        found.append(f"a connection holds a lock on {target}")
    if probe_lock(sidecar(target, "-shm"), SHM_LOCKS_START, SHM_LOCKS_LENGTH):
        found.append(f"a connection has {target} open in WAL mode ({target.name}-shm is locked)")
    return found


@dataclass(frozen=True)
class CheckedCopy:
    integrity: str
    row_counts: dict[str, int]


def check_copy(path: Path) -> CheckedCopy:
    """integrity_check and row counts of a decompressed copy; raise sqlite3.DatabaseError when it is no database."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = integrity_of(connection)
        counts = table_row_counts(connection) if integrity == "ok" else {}
    finally:
        connection.close()
    return CheckedCopy(integrity, counts)


@dataclass
class Replacement:
    kept: Path | None = None
    moved: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def move_journals_aside(target: Path, kept: Path, replacement: Replacement) -> None:
    for suffix in JOURNAL_SUFFIXES:
        journal = sidecar(target, suffix)
        if journal.exists():
            destination = sidecar(kept, suffix)
            os.rename(journal, destination)
            replacement.moved.append(destination)


def keep_old_file(target: Path, kept: Path) -> None:
    """Give the old database a second name without a moment in which `target` is missing."""
    try:
        os.link(target, kept)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            raise
        os.rename(target, kept)


def replace_database(restored: Path, target: Path, kept: Path) -> Replacement:
    """Keep the old target (with its -wal/-journal) as `kept`, remove -shm, and rename `restored` to `target`."""
    replacement = Replacement()
    if target.exists():
        keep_old_file(target, kept)
        replacement.kept = kept
    for _ in range(3):  # a connection opened meanwhile may have made a new -wal for the old file
        move_journals_aside(target, kept, replacement)
        shm = sidecar(target, "-shm")
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()
            replacement.removed.append(shm)
        if not any(sidecar(target, suffix).exists() for suffix in JOURNAL_SUFFIXES):
            break
    os.replace(restored, target)
    fsync_directory(target.parent)
    return replacement
